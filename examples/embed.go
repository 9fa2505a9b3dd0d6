// Package examples holds the bundled example functions (functions/: C
// sources beside their committed .wasm) and the default config that serves
// them, embedded so `sledge serve` works with no files at hand.
//
// What must not live here: runtime code. Example policies are separate
// programs under policies/.
package examples

import (
	"embed"

	"github.com/gosledge/gosledge/core/config"
)

//go:embed default.toml functions/*.wasm
var files embed.FS

// DefaultConfigName is the name the embedded config has in error messages.
const DefaultConfigName = "default.toml"

// DefaultConfig parses the embedded default config; its modules come from
// the embedded functions.
func DefaultConfig() (*config.Config, error) {
	data, err := files.ReadFile(DefaultConfigName)
	if err != nil {
		return nil, err
	}
	return config.Parse(DefaultConfigName, data, files)
}
