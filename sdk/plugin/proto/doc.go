// Package proto is the generated Go code of the policy plugin protocol,
// policy.proto: the messages and the one bidirectional stream between the
// host (sdk/plugin's Client) and a plugin (sdk/plugin's Serve).
//
// What must not live here: hand-written code. Edit policy.proto and run
// `make proto` to regenerate policy.pb.go and policy_grpc.pb.go.
package proto
