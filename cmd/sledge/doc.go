// Command sledge runs and inspects a gosledge server.
//
//	sledge serve    [--config F] [--workers N] [--policy P] [--quantum D] [--log-level L] [--log-format F]
//	sledge validate --config F
//	sledge policies [--config F]
//	sledge bench    --workload W [--policies P,...] [--target URL] [--out DIR] [--duration D]
//	sledge sim      --workload W [--policies P,...] [--workers N] [--nodes K [--balancers B,...]]
//	sledge cluster  up --instances N --config F [--workers N,...] [--no-agent] [--dry-run]
//	sledge version
//
// With no --config, serve and policies use the embedded default config
// that serves the bundled example functions on 127.0.0.1:10010.
//
// What must not live here: runtime logic. This package parses flags and
// calls core, core/config and plugins.
package main
