package queuebound

import (
	"errors"
	"fmt"

	"github.com/gosledge/gosledge/sdk"
)

// Options are the keys of the table.
type Options struct {
	// MaxQueued is how many queued tasks the policy holds before Admit
	// refuses new ones; at least 1.
	MaxQueued int `toml:"max_queued"`
}

// Decode reads o, with def for an absent max_queued. Every problem is
// returned as an *sdk.OptionError; the Options hold def for a key that
// was rejected.
func Decode(o sdk.Options, def int) (Options, error) {
	opt := Options{MaxQueued: def}
	err := o.Decode(&opt)
	if opt.MaxQueued < 1 {
		err = errors.Join(err, &sdk.OptionError{Key: "max_queued", Err: fmt.Errorf("must be at least 1, got %d", opt.MaxQueued)})
		opt.MaxQueued = def
	}
	return opt, err
}
