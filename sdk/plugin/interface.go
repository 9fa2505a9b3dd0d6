package plugin

import (
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/gosledge/gosledge/sdk"
	pb "github.com/gosledge/gosledge/sdk/plugin/proto"
)

// ProtocolVersion is the version of the policy protocol
// (proto/policy.proto, wire.go) this package speaks. It changes when an
// incompatible change is made; the host refuses a plugin built for another
// version. Version 1 carried every call as protobuf messages on a gRPC
// stream; version 2 carries binary frames on a socket of their own;
// version 3 (contract v2) passes now to WouldPreempt and a policy's
// config tables to Configure.
const ProtocolVersion = 3

// The magic cookie is not a security measure: it only keeps a user who
// runs a plugin binary by hand from staring at a hung process (go-plugin
// prints a short explanation and exits instead).
const (
	MagicCookieKey   = "GOSLEDGE_POLICY_PLUGIN"
	MagicCookieValue = "4e1d7c3b0a9f5e62-policy"
)

// pluginName is the key of the one plugin in the go-plugin plugin set.
const pluginName = "policy"

var handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   MagicCookieKey,
	MagicCookieValue: MagicCookieValue,
}

// pluginSets is the go-plugin plugin map, by protocol version. impl is the
// policy served (plugin side) or nil (host side). The host also offers the
// older versions, never to use them: a plugin built for one then completes
// the handshake, and Launch refuses it naming both versions, where
// go-plugin would only say "incompatible API version".
func pluginSets(impl sdk.Policy) map[int]goplugin.PluginSet {
	sets := map[int]goplugin.PluginSet{
		ProtocolVersion: {pluginName: &grpcPlugin{impl: impl}},
	}
	if impl == nil {
		for v := 1; v < ProtocolVersion; v++ {
			sets[v] = sets[ProtocolVersion]
		}
	}
	return sets
}

// caps is the set of optional sdk interfaces a policy implements.
type caps uint8

const (
	capCharger caps = 1 << iota
	capConfigurer
	capAdmitter
	capShedder
	capReporter
	capAll = capCharger | capConfigurer | capAdmitter | capShedder | capReporter
)

// capsOf is the set of x's non-nil interfaces: the bits are sdk's.
func capsOf(x sdk.Extensions) caps { return caps(x.Mask()) }

var capNames = []struct {
	c    caps
	pb   pb.Capability
	name string
}{
	{capCharger, pb.Capability_CAPABILITY_CHARGER, "Charger"},
	{capConfigurer, pb.Capability_CAPABILITY_CONFIGURER, "Configurer"},
	{capAdmitter, pb.Capability_CAPABILITY_ADMITTER, "Admitter"},
	{capShedder, pb.Capability_CAPABILITY_SHEDDER, "Shedder"},
	{capReporter, pb.Capability_CAPABILITY_REPORTER, "Reporter"},
}

func (c caps) proto() []pb.Capability {
	var out []pb.Capability
	for _, n := range capNames {
		if c&n.c != 0 {
			out = append(out, n.pb)
		}
	}
	return out
}

// capsFromProto reads the capabilities a plugin reported; unknown ones
// (from a newer plugin) are ignored.
func capsFromProto(list []pb.Capability) caps {
	var c caps
	for _, x := range list {
		for _, n := range capNames {
			if n.pb == x {
				c |= n.c
			}
		}
	}
	return c
}

// Names lists the capabilities, for logs.
func (c caps) names() []string {
	out := []string{}
	for _, n := range capNames {
		if c&n.c != 0 {
			out = append(out, n.name)
		}
	}
	return out
}
