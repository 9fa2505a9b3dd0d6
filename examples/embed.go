package examples

import (
	"embed"

	"github.com/gosledge/gosledge/core/config"
)

//go:embed default.toml functions/*.wasm functions/*/*.wasm
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
