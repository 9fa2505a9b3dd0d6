package plugin

import (
	"context"
	"errors"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/gosledge/gosledge/sdk"
	pb "github.com/gosledge/gosledge/sdk/plugin/proto"
)

// grpcPlugin is the go-plugin glue: it registers the policy service on the
// plugin's gRPC server and builds the host's stub. net/rpc is not
// supported.
type grpcPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	impl sdk.Policy // plugin side only
}

var _ goplugin.GRPCPlugin = (*grpcPlugin)(nil)

func (p *grpcPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	if p.impl == nil {
		return errors.New("no policy to serve")
	}
	pb.RegisterPolicyServer(s, newServer(p.impl))
	return nil
}

// stub is what Dispense returns on the host: the gRPC client and the
// context go-plugin cancels when the plugin process exits.
type stub struct {
	rpc    pb.PolicyClient
	exited context.Context
}

func (p *grpcPlugin) GRPCClient(ctx context.Context, _ *goplugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return &stub{rpc: pb.NewPolicyClient(cc), exited: ctx}, nil
}
