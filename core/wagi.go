package core

// WAGI routes (interface = "wagi"): the request as a CGI environment, the
// response as CGI headers on stdout, after deislabs/wagi's
// docs/environment_variables.md and docs/writing_modules.md, so that a
// function written for another WAGI host runs unchanged. README, "WAGI
// routes", is the operator's view of what follows.

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/gosledge/gosledge/core/config"
)

// isWAGI reports whether the route speaks WAGI.
func (r *route) isWAGI() bool { return r.cfg.Interface == config.InterfaceWAGI }

// scriptName is the route's path without a prefix route's "/...": CGI's
// SCRIPT_NAME ("" for the route "/...", which serves every path).
func (r *route) scriptName() string {
	s, _ := strings.CutSuffix(r.cfg.Path, config.PrefixSuffix)
	return s
}

// matchPrefix finds the prefix route ("/foo/...", WAGI only) that serves p,
// the longest if several do; exact paths are looked up before. It walks
// the routes rather than the path's parents so that a long path costs no
// more than a short one.
func matchPrefix(routes map[string]*route, p string) (*route, bool) {
	p = cleanPath(p)
	var best *route
	for _, rt := range routes {
		if !rt.cfg.IsPrefix() {
			continue
		}
		if s := rt.scriptName(); underPrefix(p, s) && (best == nil || len(s) > len(best.scriptName())) {
			best = rt
		}
	}
	return best, best != nil
}

// underPrefix: "/foo/..." serves /foo and /foo/bar, not /foobar.
func underPrefix(p, prefix string) bool {
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}

// cleanPath is p without "." and ".." segments or doubled slashes (a
// trailing slash stays), so that "/hello/../admin" is not served by
// "/hello/..." with a PATH_INFO that climbs out of it.
func cleanPath(p string) string {
	c := path.Clean("/" + p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// allows reports whether the route serves method, and what it allows if
// not. A plain route takes GET and POST; a WAGI route also the methods its
// function can tell apart by REQUEST_METHOD (CONNECT and TRACE are a
// proxy's business).
func (r *route) allows(method string) (allow string, ok bool) {
	if r.isWAGI() {
		return "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS", slices.Contains(wagiMethods, method)
	}
	return "GET, POST", method == http.MethodGet || method == http.MethodPost
}

var wagiMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions,
}

// argv is the guest's argv: a WAGI route's, or the route's path and the
// query's values.
func (sb *Sandbox) argv() []string {
	if sb.wagiArgv != nil {
		return sb.wagiArgv
	}
	return append([]string{sb.route.cfg.Path}, sb.args...)
}

// wagiRequest is a WAGI route's argv and environment for r, or why r
// cannot have one: a NUL byte (a decoded "%00" in the path) cannot be in
// a WASI environment, and no function can be asked about such a path.
func wagiRequest(r *http.Request, rt *route, bodyLen int) (argv, env []string, err error) {
	if strings.IndexByte(r.URL.Path, 0) >= 0 {
		return nil, nil, errors.New("the path has a NUL byte (%00), which a CGI environment cannot hold")
	}
	return wagiArgs(r), wagiEnv(r, rt, bodyLen), nil
}

// wagiArgs is WAGI's argv: the request's path, then each "&"-separated
// item of the raw query, undecoded ("/env?a=1&b" → "/env", "a=1", "b").
func wagiArgs(r *http.Request) []string {
	args := []string{r.URL.EscapedPath()}
	if r.URL.RawQuery != "" {
		args = append(args, strings.Split(r.URL.RawQuery, "&")...)
	}
	return args
}

// Request headers no guest sees (README, "WAGI routes"):
//   - credentials: RFC 3875 §4.1.18 says a server SHOULD NOT pass
//     Authorization, and WAGI drops it; Proxy-Authorization is the same
//     for a proxy in front;
//   - Proxy: as HTTP_PROXY it would set the guest's outbound proxy
//     ("httpoxy", CVE-2016-5385);
//   - hop-by-hop headers (RFC 9110 §7.6.1) and any header Connection names:
//     they describe this connection, not the request.
//
// A header whose name has "_" is dropped too: HTTP_X_USER could otherwise
// be forged as "X_User" next to a proxy's "X-User" (nginx and Apache drop
// them for the same reason). Cookie is passed: a function needs it for
// its sessions.
var wagiHiddenHeaders = map[string]bool{
	"Authorization": true, "Proxy-Authorization": true, "Proxy": true,
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

// wagiEnv is the request's CGI environment as KEY=value strings, sorted
// by key: what environ_get hands the guest (wasiargs.go). bodyLen is the
// body as read (after any transfer coding).
func wagiEnv(r *http.Request, rt *route, bodyLen int) []string {
	host, port := serverHostPort(r)
	remote := r.RemoteAddr
	if h, _, err := net.SplitHostPort(remote); err == nil {
		remote = h
	}
	clean := cleanPath(r.URL.Path)
	script := rt.scriptName()
	if !rt.cfg.IsPrefix() {
		script = rt.cfg.Path
	}
	info := strings.TrimPrefix(clean, script)
	escaped := r.URL.EscapedPath()
	if clean != r.URL.Path {
		escaped = (&url.URL{Path: clean}).EscapedPath()
	}
	rawInfo, ok := strings.CutPrefix(escaped, (&url.URL{Path: script}).EscapedPath())
	if !ok { // the client escaped the script name otherwise ("/%61" for "/a")
		rawInfo = (&url.URL{Path: info}).EscapedPath()
	}
	fullURL := "http://" + net.JoinHostPort(host, port) + escaped
	if r.URL.RawQuery != "" {
		fullURL += "?" + r.URL.RawQuery
	}
	env := map[string]string{
		"AUTH_TYPE":         "",
		"CONTENT_LENGTH":    strconv.Itoa(bodyLen),
		"CONTENT_TYPE":      r.Header.Get("Content-Type"),
		"GATEWAY_INTERFACE": "CGI/1.1",
		"HTTP_HOST":         r.Host,
		"PATH_INFO":         info,
		"PATH_TRANSLATED":   info,
		"QUERY_STRING":      r.URL.RawQuery,
		"REMOTE_ADDR":       remote,
		"REMOTE_HOST":       remote,
		"REMOTE_USER":       "",
		"REQUEST_METHOD":    r.Method,
		"SCRIPT_NAME":       script,
		"SERVER_NAME":       host,
		"SERVER_PORT":       port,
		"SERVER_PROTOCOL":   r.Proto,
		"SERVER_SOFTWARE":   "WAGI/1",
		"X_FULL_URL":        fullURL,
		"X_MATCHED_ROUTE":   rt.cfg.Path,
		"X_RAW_PATH_INFO":   rawInfo,
	}
	hidden := connectionHeaders(r.Header)
	for name, values := range r.Header {
		if wagiHiddenHeaders[name] || hidden[name] || strings.Contains(name, "_") {
			continue
		}
		sep := ", "
		if name == "Cookie" {
			sep = "; " // RFC 6265 §5.4: one Cookie line, "; " between pairs
		}
		env["HTTP_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_"))] = strings.Join(values, sep)
	}
	vars := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		vars = append(vars, k+"="+env[k])
	}
	return vars
}

// connectionHeaders are the headers a request's Connection header names
// as hop-by-hop (RFC 9110 §7.6.1), canonicalised.
func connectionHeaders(h http.Header) map[string]bool {
	var names map[string]bool
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				if names == nil {
					names = map[string]bool{}
				}
				names[http.CanonicalHeaderKey(name)] = true
			}
		}
	}
	return names
}

// serverHostPort is SERVER_NAME and SERVER_PORT: the Host header's, as
// CGI asks; a part it lacks comes from the address the request came in on.
func serverHostPort(r *http.Request) (host, port string) {
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		host, port, _ = net.SplitHostPort(la.String())
	}
	h, p, err := net.SplitHostPort(r.Host)
	if err != nil { // no port in Host
		h, p = r.Host, ""
	}
	if h = strings.Trim(h, "[]"); h != "" {
		host = h
	}
	if p != "" {
		port = p
	}
	return host, port
}

// cgiResponse is a WAGI function's stdout, parsed.
type cgiResponse struct {
	status int
	header http.Header // to send, Content-Type included if the guest gave one
	body   []byte
}

// errCGI marks a malformed CGI response: the function ran, but its
// answer cannot become an HTTP response (502).
var errCGI = errors.New("bad CGI response from the function")

// Response headers a guest may not set: the server frames the response
// itself (a guest's Content-Length could contradict the body it wrote) and
// owns the connection. They are dropped, not refused: CGI scripts often
// print Content-Length.
var cgiDroppedHeaders = map[string]bool{
	"Content-Length": true, "Transfer-Encoding": true, "Connection": true, "Keep-Alive": true,
	"Proxy-Connection": true, "Te": true, "Trailer": true, "Upgrade": true,
}

// parseCGI splits out into its CGI header block and body (RFC 3875 §6):
// lines "Name: value" ended by "\n" or "\r\n", then an empty line. The
// block, with the empty line, may be at most limit bytes. Content-Type,
// Status and Location may each appear once, and one of them must: a
// Location without Status is a 302. Other headers are passed on, repeated
// ones (Set-Cookie) in order. Every error wraps errCGI and says what is
// wrong and on which line.
func parseCGI(out []byte, limit int) (cgiResponse, error) {
	res := cgiResponse{header: http.Header{}}
	bad := func(format string, a ...any) (cgiResponse, error) {
		return cgiResponse{}, fmt.Errorf("%w: %s", errCGI, fmt.Sprintf(format, a...))
	}
	seen := map[string]bool{}
	for start, line := 0, 1; ; line++ {
		nl := bytes.IndexByte(out[start:min(len(out), limit)], '\n')
		if nl < 0 {
			if len(out) > limit {
				return bad("the header block exceeds %s (runtime.max_header_bytes)", formatBytes(int64(limit)))
			}
			return bad("the output ended before the empty line that ends the headers (a WAGI function prints headers, an empty line, then the body)")
		}
		text := bytes.TrimSuffix(out[start:start+nl], []byte("\r"))
		start += nl + 1
		if len(text) == 0 {
			if line == 1 {
				return bad("no headers before the empty line on line 1")
			}
			res.body = out[start:]
			break
		}
		name, value, ok := strings.Cut(string(text), ":")
		switch {
		case !ok:
			return bad("line %d: %q is not a \"Name: value\" header", line, trimQuote(text))
		case !httpguts.ValidHeaderFieldName(name):
			return bad("line %d: %q is not a valid header name", line, trimQuote([]byte(name)))
		}
		value = strings.Trim(value, " \t")
		if !httpguts.ValidHeaderFieldValue(value) {
			return bad("line %d: header %s has a control character in its value", line, name)
		}
		key := http.CanonicalHeaderKey(name)
		switch key {
		case "Status", "Content-Type", "Location":
			if seen[key] {
				return bad("line %d: a second %s header", line, key)
			}
			seen[key] = true
		}
		switch {
		case key == "Status":
			code, err := cgiStatus(value)
			if err != nil {
				return bad("line %d: %v", line, err)
			}
			res.status = code
		case cgiDroppedHeaders[key]:
		default:
			res.header.Add(key, value)
		}
	}
	if !seen["Content-Type"] && !seen["Location"] && !seen["Status"] {
		return bad("no Content-Type, Location or Status header")
	}
	if res.status == 0 {
		res.status = http.StatusOK
		if seen["Location"] {
			res.status = http.StatusFound
		}
	}
	return res, nil
}

// cgiStatus parses a Status value: a code, then optionally a space and a
// reason phrase ("404 Not Found"). 1xx is not a final answer.
func cgiStatus(v string) (int, error) {
	code, _, _ := strings.Cut(v, " ")
	n, err := strconv.Atoi(code)
	if err != nil || len(code) != 3 || n < 200 || n > 599 {
		return 0, fmt.Errorf("Status %q: want a code from 200 to 599, optionally followed by a reason", v)
	}
	return n, nil
}

// trimQuote shortens a bad line for an error message.
func trimQuote(b []byte) string {
	const max = 60
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// writeWAGI answers a WAGI function that exited 0 with its CGI headers
// and body, and returns the status sent. If they are malformed it sends
// nothing and returns the parse error: the listener answers it as
// ResultBadResponse (502).
func (t *tenant) writeWAGI(w http.ResponseWriter, rt *route, out []byte) (int, error) {
	limit := t.http.MaxHeaderBytes
	if limit <= 0 {
		limit = http.DefaultMaxHeaderBytes // as net/http reads a request's
	}
	res, err := parseCGI(out, limit)
	if err != nil {
		return 0, err // the caller answers ResultBadResponse
	}
	h := w.Header()
	for k, v := range res.header {
		h[k] = v
	}
	if h.Get("Content-Type") == "" && len(res.body) > 0 {
		h.Set("Content-Type", rt.cfg.ContentType) // rather than Go's sniffing
	}
	w.WriteHeader(res.status)
	w.Write(res.body)
	return res.status, nil
}
