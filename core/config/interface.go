package config

import (
	"fmt"
	"strings"
)

// The interfaces of a route (key "interface"): how a function sees its
// request and how its output becomes the response.
const (
	// InterfacePlain: the body is stdin, the query's values are argv, stdout
	// is the response body (README, "HTTP contract").
	InterfacePlain = "plain"
	// InterfaceWAGI: WAGI's CGI environment (REQUEST_METHOD, PATH_INFO,
	// HTTP_* …) and argv, and a response that starts with CGI headers
	// (README, "WAGI routes").
	InterfaceWAGI = "wagi"
)

// PrefixSuffix ends the path of a route that serves every path below it
// (WAGI's "/foo/..." serves /foo and /foo/anything).
const PrefixSuffix = "/..."

// IsPrefix reports whether the route serves every path below its path.
func (r *Route) IsPrefix() bool { return strings.HasSuffix(r.Path, PrefixSuffix) }

// checkPrefixPath refuses a prefix path on a plain route: its function
// cannot see which path it was asked for.
func checkPrefixPath(r *Route) error {
	if r.IsPrefix() && r.Interface != InterfaceWAGI {
		return fmt.Errorf("a path ending in %q serves every path below it, which only a route with interface = %q can tell apart; got interface %q", PrefixSuffix, InterfaceWAGI, r.Interface)
	}
	return nil
}
