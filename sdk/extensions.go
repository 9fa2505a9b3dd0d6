package sdk

// Extensions are the optional interfaces a policy implements, found in one
// place: a nil field is one the policy lacks. The core, both plugin
// transports and the conformance suite ask ExtensionsOf rather than
// asserting each interface themselves, so adding an optional interface
// means adding a field here and a line in ExtensionsOf.
type Extensions struct {
	Charger    Charger
	Configurer Configurer
	Admitter   Admitter
	Shedder    Shedder
	Reporter   Reporter
}

// ExtensionsOf returns the optional interfaces p implements.
func ExtensionsOf(p Policy) Extensions {
	var x Extensions
	x.Charger, _ = p.(Charger)
	x.Configurer, _ = p.(Configurer)
	x.Admitter, _ = p.(Admitter)
	x.Shedder, _ = p.(Shedder)
	x.Reporter, _ = p.(Reporter)
	return x
}

// Mask is the set of x's non-nil fields as bits, in field order: Charger
// 1, Configurer 2, Admitter 4, Shedder 8, Reporter 16. Both plugin
// transports announce a policy's extensions with these bits.
func (x Extensions) Mask() uint32 {
	var m uint32
	for i, has := range []bool{x.Charger != nil, x.Configurer != nil, x.Admitter != nil, x.Shedder != nil, x.Reporter != nil} {
		if has {
			m |= 1 << i
		}
	}
	return m
}
