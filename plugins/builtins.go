package plugins

import (
	"github.com/gosledge/gosledge/plugins/edf"
	"github.com/gosledge/gosledge/plugins/fifo"
	"github.com/gosledge/gosledge/plugins/mtdbf"
	"github.com/gosledge/gosledge/plugins/mtds"
	"github.com/gosledge/gosledge/plugins/sjf"
	"github.com/gosledge/gosledge/sdk"
)

// Builtins returns a registry of every policy compiled into the binary.
func Builtins() *sdk.Registry {
	r := sdk.NewRegistry()
	for _, p := range []struct {
		name string
		f    sdk.Factory
	}{
		{fifo.Name, func() sdk.Policy { return fifo.New() }},
		{edf.Name, func() sdk.Policy { return edf.New() }},
		{sjf.Name, func() sdk.Policy { return sjf.New() }},
		{mtds.Name, func() sdk.Policy { return mtds.New() }},
		{mtdbf.Name, func() sdk.Policy { return mtdbf.New() }},
	} {
		if err := r.Register(p.name, p.f); err != nil {
			panic(err) // two built-ins with one name is a programming error
		}
	}
	return r
}
