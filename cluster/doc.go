// Package cluster lays out several gosledge instances and the HAProxy
// configuration in front of them: the ports each instance listens on
// (tenant ports, metrics and agent-check shifted by a per-instance offset)
// and a haproxy.cfg that balances each tenant with leastconn, weighted by
// what each instance's agent reports (core's Load), health-checks /readyz,
// and retries elsewhere what a draining instance refused. `sledge cluster
// up` runs both on one machine; the generated file is meant to be edited
// into a real deployment (README, "Running several instances"). No
// balancing happens here: HAProxy does it.
package cluster
