//go:build race

package instrument

// raceEnabled: the race detector slows wazero several times over.
const raceEnabled = true
