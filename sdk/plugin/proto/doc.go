// Package proto is the generated Go code of the policy plugin protocol's
// gRPC part, policy.proto: Hello, and the Session stream that carries the
// binary frames (sdk/plugin/wire.go) where the host cannot pass the plugin
// a socket, between the host (sdk/plugin's Client) and a plugin
// (sdk/plugin's Serve).
//
// What must not live here: hand-written code. Edit policy.proto and run
// `make proto` to regenerate policy.pb.go and policy_grpc.pb.go.
package proto
