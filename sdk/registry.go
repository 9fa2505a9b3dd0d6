package sdk

import (
	"fmt"
	"slices"
)

// Factory returns a new, empty policy instance.
type Factory func() Policy

// Registry maps policy names to factories. It is built explicitly by its
// owner (no init-time registration), so what a binary can run is visible in
// one place.
type Registry struct {
	factories map[string]Factory
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{factories: map[string]Factory{}}
}

// Register adds a policy. Registering a name twice is an error.
func (r *Registry) Register(name string, f Factory) error {
	if name == "" || f == nil {
		return fmt.Errorf("sdk: register %q: empty name or nil factory", name)
	}
	if _, dup := r.factories[name]; dup {
		return fmt.Errorf("sdk: policy %q registered twice", name)
	}
	r.factories[name] = f
	return nil
}

// New returns a fresh instance of the named policy.
func (r *Registry) New(name string) (Policy, error) {
	f, ok := r.factories[name]
	if !ok {
		return nil, fmt.Errorf("unknown policy %q (have %v)", name, r.Names())
	}
	return f(), nil
}

// Has reports whether name is registered.
func (r *Registry) Has(name string) bool {
	_, ok := r.factories[name]
	return ok
}

// Names lists the registered names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.factories))
	for n := range r.factories {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
