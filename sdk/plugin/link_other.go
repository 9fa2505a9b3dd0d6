//go:build !unix

package plugin

import (
	"os"
	"time"
)

// linkFD is 0 where no descriptor can be passed: the Session stream.
const linkFD = 0

func socketPair(time.Duration) (hostLink, *os.File, error) { return nil, nil, errNoSocketLink }

func openLink(int) (pluginLink, error) { return nil, errNoSocketLink }
