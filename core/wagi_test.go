package core

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"

	"github.com/gosledge/gosledge/core/config"
)

func TestParseCGI(t *testing.T) {
	const limit = 128
	type want struct {
		status int
		header http.Header
		body   string
	}
	for _, tc := range []struct {
		name, out string
		want      want
		err       string // substring of the error; "" for none
	}{
		{"content type", "Content-Type: text/html\n\n<p>hi</p>\n",
			want{200, http.Header{"Content-Type": {"text/html"}}, "<p>hi</p>\n"}, ""},
		{"lower case, no space, CRLF", "content-type:text/plain\r\nstatus:404\r\n\r\nNot Found\r\n",
			want{404, http.Header{"Content-Type": {"text/plain"}}, "Not Found\r\n"}, ""},
		{"status with a reason", "Status: 418 I'm a teapot\nContent-Type: text/plain\n\n",
			want{418, http.Header{"Content-Type": {"text/plain"}}, ""}, ""},
		{"status alone", "Status: 204\n\n", want{204, http.Header{}, ""}, ""},
		{"location is a 302", "Location: http://example.com/\n\n",
			want{302, http.Header{"Location": {"http://example.com/"}}, ""}, ""},
		{"location with a status", "Status: 301\nLocation: /new\n\n",
			want{301, http.Header{"Location": {"/new"}}, ""}, ""},
		{"others passed, repeats kept in order", "Content-Type: a/b\nSet-Cookie: a=1\nX-Thing:  v  \nSet-Cookie: b=2\n\n",
			want{200, http.Header{"Content-Type": {"a/b"}, "Set-Cookie": {"a=1", "b=2"}, "X-Thing": {"v"}}, ""}, ""},
		{"framing headers dropped", "Content-Type: a/b\nContent-Length: 99\nTransfer-Encoding: chunked\nConnection: close\n\nxy",
			want{200, http.Header{"Content-Type": {"a/b"}}, "xy"}, ""},
		{"empty lines in the body stay", "Content-Type: a/b\n\n\n\nbody\n\n",
			want{200, http.Header{"Content-Type": {"a/b"}}, "\n\nbody\n\n"}, ""},
		{"an empty value", "Content-Type: a/b\nX-Empty:\n\n",
			want{200, http.Header{"Content-Type": {"a/b"}, "X-Empty": {""}}, ""}, ""},
		{"block of exactly the limit", "Content-Type: a/b\nX-Pad: " + strings.Repeat("p", limit-27) + "\n\nbody",
			want{200, http.Header{"Content-Type": {"a/b"}, "X-Pad": {strings.Repeat("p", limit-27)}}, "body"}, ""},

		{"no output", "", want{}, "output ended before the empty line"},
		{"plain output", "hello, world\n", want{}, `line 1: "hello, world" is not a "Name: value" header`},
		{"no empty line", "Content-Type: text/plain\n", want{}, "output ended before the empty line"},
		{"no empty line nor newline", "Content-Type: text/plain", want{}, "output ended before the empty line"},
		{"empty line first", "\nbody", want{}, "no headers before the empty line"},
		{"no colon", "Content-Type: a/b\nbogus\n\n", want{}, `line 2: "bogus" is not a "Name: value" header`},
		{"space in a name", "Content Type: a/b\n\n", want{}, `line 1: "Content Type" is not a valid header name`},
		{"folded line", "Content-Type: a/b\n continued\n\n", want{}, `line 2: " continued" is not a "Name: value" header`},
		{"control character", "Content-Type: a/b\nX-Bad: a\x01b\n\n", want{}, "line 2: header X-Bad has a control character"},
		{"status not a number", "Status: OK\n\n", want{}, `line 1: Status "OK": want a code from 200 to 599`},
		{"status 1xx", "Status: 100 Continue\n\n", want{}, `Status "100 Continue"`},
		{"status 600", "Status: 600\n\n", want{}, `Status "600"`},
		{"status too short", "Status: 20\n\n", want{}, `Status "20"`},
		{"status glued to its reason", "Status: 404Not Found\n\n", want{}, `Status "404Not Found"`},
		{"second status", "Status: 200\nstatus: 404\n\n", want{}, "line 2: a second Status header"},
		{"second content type", "Content-Type: a/b\nContent-Type: c/d\n\n", want{}, "line 2: a second Content-Type header"},
		{"none of the three", "X-Thing: 1\n\nbody", want{}, "no Content-Type, Location or Status header"},
		{"block one past the limit", "Content-Type: a/b\nX-Pad: " + strings.Repeat("p", limit-26) + "\n\nbody", want{}, "header block exceeds 128 bytes"},
		{"one long line, no newline", strings.Repeat("x", 10*limit), want{}, "header block exceeds 128 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseCGI([]byte(tc.out), limit)
			if tc.err != "" {
				if err == nil || !errors.Is(err, errCGI) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want errCGI containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g := (want{got.status, got.header, string(got.body)}); !reflect.DeepEqual(g, tc.want) {
				t.Errorf("got %+v\nwant %+v", g, tc.want)
			}
		})
	}
}

// wagiRoute is a WAGI route serving the module at path; testdata modules
// are named "testdata:NAME".
func wagiRoute(t testing.TB, path, fn string) config.Route {
	t.Helper()
	var r config.Route
	if name, ok := strings.CutPrefix(fn, "testdata:"); ok {
		r = counterRoute(t, path, name)
	} else {
		r = testRoute(t, path, fn)
	}
	r.Interface = config.InterfaceWAGI
	return r
}

func TestWAGIEnv(t *testing.T) {
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8123}
	for _, tc := range []struct {
		name, route, method, target string
		header                      http.Header
		host                        string // "" keeps httptest's example.com
		want                        map[string]string
		absent                      []string
	}{
		{name: "WAGI's own test", route: "/path/...", method: "POST", target: "/path/test%3brun?foo=bar",
			header: http.Header{"X-Test-Header": {"hello"}, "Accept": {"text/html"}, "User-Agent": {"test"},
				"Authorization": {"supersecret"}, "Connection": {"sensitive"}, "Content-Type": {"text/plain"}},
			host: "example.com:3000",
			want: map[string]string{
				"X_MATCHED_ROUTE": "/path/...", "HTTP_ACCEPT": "text/html", "REQUEST_METHOD": "POST",
				"SERVER_PROTOCOL": "HTTP/1.1", "HTTP_USER_AGENT": "test", "SCRIPT_NAME": "/path",
				"SERVER_SOFTWARE": "WAGI/1", "SERVER_PORT": "3000", "SERVER_NAME": "example.com", "AUTH_TYPE": "",
				"REMOTE_ADDR": "192.0.2.1", "REMOTE_HOST": "192.0.2.1", "PATH_INFO": "/test;run",
				"X_RAW_PATH_INFO": "/test%3brun", "PATH_TRANSLATED": "/test;run", "QUERY_STRING": "foo=bar",
				"CONTENT_LENGTH": "5", "CONTENT_TYPE": "text/plain", "HTTP_HOST": "example.com:3000",
				"GATEWAY_INTERFACE": "CGI/1.1", "REMOTE_USER": "", "HTTP_X_TEST_HEADER": "hello",
				"X_FULL_URL": "http://example.com:3000/path/test%3brun?foo=bar",
			},
			absent: []string{"HTTP_AUTHORIZATION", "HTTP_CONNECTION"}},
		{name: "exact route", route: "/hi", method: "GET", target: "/hi",
			want: map[string]string{"SCRIPT_NAME": "/hi", "PATH_INFO": "", "X_RAW_PATH_INFO": "", "X_MATCHED_ROUTE": "/hi",
				"QUERY_STRING": "", "CONTENT_LENGTH": "0", "CONTENT_TYPE": "", "SERVER_NAME": "example.com",
				"X_FULL_URL": "http://example.com:8123/hi"}},
		{name: "no Host port: the listener's", route: "/...", method: "GET", target: "/a/b/", host: "[::1]",
			want: map[string]string{"SERVER_NAME": "::1", "SERVER_PORT": "8123", "SCRIPT_NAME": "", "PATH_INFO": "/a/b/",
				"X_MATCHED_ROUTE": "/...", "X_FULL_URL": "http://[::1]:8123/a/b/"}},
		{name: "dot segments cleaned", route: "/files/...", method: "GET", target: "/files/a/../b//c",
			want: map[string]string{"PATH_INFO": "/b/c", "X_RAW_PATH_INFO": "/b/c", "X_FULL_URL": "http://example.com:8123/files/b/c"}},
		{name: "encoded script name", route: "/a b/...", method: "GET", target: "/a%20b/c%2Fd",
			want: map[string]string{"SCRIPT_NAME": "/a b", "PATH_INFO": "/c/d", "X_RAW_PATH_INFO": "/c%2Fd"}},
		{name: "hidden headers", route: "/h", method: "GET", target: "/h",
			header: http.Header{"Proxy-Authorization": {"x"}, "Proxy": {"http://evil:1"}, "Connection": {"keep-alive, X-Hop"},
				"X-Hop": {"1"}, "Keep-Alive": {"300"}, "Te": {"trailers"}, "Upgrade": {"h2c"}, "X_user": {"forged"},
				"X-User": {"real"}, "Trailer": {"X"}},
			want:   map[string]string{"HTTP_X_USER": "real"},
			absent: []string{"HTTP_PROXY_AUTHORIZATION", "HTTP_PROXY", "HTTP_CONNECTION", "HTTP_X_HOP", "HTTP_KEEP_ALIVE", "HTTP_TE", "HTTP_UPGRADE", "HTTP_TRAILER"}},
		{name: "repeated headers joined", route: "/h", method: "GET", target: "/h",
			header: http.Header{"Accept": {"a/b", "c/d"}, "Cookie": {"a=1", "b=2"}},
			want:   map[string]string{"HTTP_ACCEPT": "a/b, c/d", "HTTP_COOKIE": "a=1; b=2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			bodyLen := 0
			if tc.method == "POST" {
				body, bodyLen = strings.NewReader("hello"), len("hello")
			}
			r := httptest.NewRequest(tc.method, tc.target, body)
			r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, net.Addr(local)))
			for k, v := range tc.header {
				r.Header[k] = v
			}
			if tc.host != "" {
				r.Host = tc.host
			}
			rt := &route{cfg: config.Route{Path: tc.route, Interface: config.InterfaceWAGI}}
			vars := wagiEnv(r, rt, bodyLen)
			env := map[string]string{}
			prev := ""
			for _, kv := range vars {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Errorf("%q is no KEY=value", kv)
				}
				if k <= prev {
					t.Errorf("%s after %s: not sorted", k, prev)
				}
				env[k], prev = v, k
			}
			for k, v := range tc.want {
				if got, ok := env[k]; !ok || got != v {
					t.Errorf("%s = %q (set %v), want %q", k, got, ok, v)
				}
			}
			for _, k := range tc.absent {
				if v, ok := env[k]; ok {
					t.Errorf("%s = %q, want it absent", k, v)
				}
			}
		})
	}
}

func TestWAGIArgs(t *testing.T) {
	for target, want := range map[string][]string{
		"/env":                    {"/env"},
		"/env/x%20y?a=1&b&c=%41&": {"/env/x%20y", "a=1", "b", "c=%41", ""},
	} {
		if got := wagiArgs(httptest.NewRequest("GET", target, nil)); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: argv %q, want %q", target, got, want)
		}
	}
}

func TestMatchPrefix(t *testing.T) {
	routes := map[string]*route{}
	for _, p := range []string{"/a/...", "/a/b/...", "/exact", "/..."} {
		routes[p] = &route{cfg: config.Route{Path: p, Interface: config.InterfaceWAGI}}
	}
	for path, want := range map[string]string{
		"/a": "/a/...", "/a/": "/a/...", "/a/x": "/a/...", "/a/b": "/a/b/...", "/a/b/c/d": "/a/b/...",
		"/ab": "/...", "/a/bc": "/a/...", "/a/b/../x": "/a/...", "/a/../a/b/": "/a/b/...", "/": "/...", "/exact/y": "/...",
	} {
		if rt, ok := matchPrefix(routes, path); !ok || rt.cfg.Path != want {
			t.Errorf("%s: matched %v, want %s", path, rt, want)
		}
	}
	delete(routes, "/...")
	if rt, ok := matchPrefix(routes, "/ab"); ok {
		t.Errorf("/ab matched %s", rt.cfg.Path)
	}
}

// TestWAGIServe serves WAGI functions written for deislabs/wagi, the Go
// and Rust examples and a WAGI route whose CGI response is the request
// body (echo), through the real server.
func TestWAGIServe(t *testing.T) {
	ts := startServer(t, config.Runtime{Workers: 2, Preemption: true, MaxHeaderBytes: 64 << 10},
		wagiRoute(t, "/hi", "testdata:wagi_hello"), wagiRoute(t, "/error", "testdata:wagi_error"),
		wagiRoute(t, "/crlf", "testdata:wagi_crlf"), wagiRoute(t, "/env/...", "testdata:wagi_printenv"),
		wagiRoute(t, "/cgi", "echo"), wagiRoute(t, "/hello/...", "gohello/gohello"), wagiRoute(t, "/headers", "rustheaders/rustheaders"),
		testRoute(t, "/rustecho", "rustecho/rustecho"), testRoute(t, "/goecho", "goecho/goecho"),
		testRoute(t, "/plain", "echo"))
	noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	port := ts.url[strings.LastIndex(ts.url, ":")+1:]

	for _, tc := range []struct {
		name, method, path, body string
		header                   http.Header
		status                   int
		wantHeader               http.Header
		want                     []string // substrings of the body
		absent                   []string
	}{
		{name: "WAGI's hello", method: "GET", path: "/hi", status: 200,
			wantHeader: http.Header{"Content-Type": {"text/html;charset=UTF-8"}}, want: []string{"Oh hi world\n"}},
		{name: "WAGI's error", method: "GET", path: "/error", status: 404,
			wantHeader: http.Header{"Content-Type": {"text/plain"}}, want: []string{"Not Found\n"}},
		{name: "WAGI's CRLF", method: "GET", path: "/crlf", status: 200, want: []string{"Oh hi world\r\n"}},
		{name: "environment", method: "PUT", path: "/env/foo/bar?x=1&y", body: "12345",
			header: http.Header{"X-Test": {"hello"}, "Authorization": {"Bearer secret"}, "Content-Type": {"text/csv"}},
			status: 200, wantHeader: http.Header{"Content-Type": {"text/plain"}},
			want: []string{"REQUEST_METHOD = PUT\n", "PATH_INFO = /foo/bar\n", "SCRIPT_NAME = /env\n",
				"X_MATCHED_ROUTE = /env/...\n", "QUERY_STRING = x=1&y\n", "HTTP_X_TEST = hello\n",
				"CONTENT_LENGTH = 5\n", "CONTENT_TYPE = text/csv\n", "SERVER_PORT = " + port + "\n",
				"SERVER_NAME = 127.0.0.1\n", "REMOTE_ADDR = 127.0.0.1\n",
				"X_FULL_URL = http://127.0.0.1:" + port + "/env/foo/bar?x=1&y\n"},
			absent: []string{"HTTP_AUTHORIZATION", "secret"}},
		{name: "the prefix itself", method: "GET", path: "/env", status: 200, want: []string{"PATH_INFO = \n", "SCRIPT_NAME = /env\n"}},
		{name: "a NUL in the path", method: "GET", path: "/env/a%00b", status: 400, want: []string{"NUL byte"}},
		{name: "outside the prefix", method: "GET", path: "/envy", status: 404, want: []string{"no route /envy"}},
		{name: "method a WAGI route refuses", method: "TRACE", path: "/env/x", status: 405, wantHeader: http.Header{"Allow": {"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"}}},
		{name: "a plain route still refuses PUT", method: "PUT", path: "/plain", status: 405},
		{name: "a query a plain route would refuse", method: "GET", path: "/env/q?%zz", status: 200, want: []string{"QUERY_STRING = %zz\n"}},
		{name: "status and a header from the guest", method: "POST", path: "/cgi", body: "Status: 201 Created\nX-Made: yes\nContent-Length: 1\n\nmade",
			status: 201, wantHeader: http.Header{"X-Made": {"yes"}, "Content-Type": {"text/plain"}, "Content-Length": {"4"}}, want: []string{"made"}},
		{name: "redirect", method: "POST", path: "/cgi", body: "Location: /elsewhere\n\n",
			status: 302, wantHeader: http.Header{"Location": {"/elsewhere"}}},
		{name: "malformed block", method: "POST", path: "/cgi", body: "Content-Type: text/plain\nno colon here\n\nbody",
			status: 502, want: []string{"bad CGI response from the function: line 2: \"no colon here\" is not a \"Name: value\" header\n"}},
		{name: "no headers at all", method: "POST", path: "/cgi", body: "just a body\n",
			status: 502, want: []string{"bad CGI response", "not a \"Name: value\" header"}},
		{name: "oversize block", method: "POST", path: "/cgi", body: "X-Big: " + strings.Repeat("b", 100<<10) + "\n\n",
			status: 502, want: []string{"header block exceeds 64 KiB"}},
		{name: "Go WAGI example", method: "GET", path: "/hello/ada", header: http.Header{"Accept-Language": {"fr-CH, en;q=0.5"}},
			status: 200, wantHeader: http.Header{"Content-Language": {"fr"}, "X-Greeted": {"ada"}, "Content-Type": {"text/plain; charset=utf-8"}},
			want: []string{"bonjour, ada\n"}},
		{name: "Go WAGI example, name in a header", method: "GET", path: "/hello", header: http.Header{"X-Name": {"grace"}},
			status: 200, wantHeader: http.Header{"Content-Language": {"en"}, "X-Greeted": {"grace"}}, want: []string{"hello, grace\n"}},
		{name: "Go WAGI example, query", method: "GET", path: "/hello/?name=lin", status: 200, want: []string{"hello, lin\n"}},
		{name: "Go WAGI example, no name", method: "GET", path: "/hello/", status: 400, want: []string{"say who"}},
		{name: "Go WAGI example, newline in the name", method: "GET", path: "/hello/a%0AX-Evil:%201", status: 400, want: []string{"say who"}},
		{name: "Go WAGI example, POST", method: "POST", path: "/hello/ada", status: 405, wantHeader: http.Header{"Allow": {"GET, HEAD"}}},
		{name: "Go WAGI example, HEAD", method: "HEAD", path: "/hello/ada", status: 200, wantHeader: http.Header{"X-Greeted": {"ada"}}},
		{name: "Rust WAGI example", method: "GET", path: "/headers",
			header: http.Header{"Authorization": {"Basic c2VjcmV0"}, "X-Request-Id": {"r1"}, "Accept-Language": {"de"}},
			status: 200, wantHeader: http.Header{"Cache-Control": {"no-store"}, "X-Header-Count": {"5"}},
			// Go's client adds Accept-Encoding and User-Agent; Host is HTTP_HOST.
			want:   []string{"Accept-Encoding: gzip\n", "Accept-Language: de\n", "Host: 127.0.0.1:" + port + "\n", "User-Agent: Go-http-client/1.1\n", "X-Request-Id: r1\n"},
			absent: []string{"Authorization", "c2VjcmV0"}},
		{name: "Rust WAGI example, DELETE", method: "DELETE", path: "/headers", status: 405, wantHeader: http.Header{"Allow": {"GET, HEAD"}}},
		{name: "Rust echo", method: "POST", path: "/rustecho", body: "from Rust", status: 200, want: []string{"from Rust"}},
		{name: "Go echo", method: "POST", path: "/goecho", body: "from Go", status: 200, want: []string{"from Go"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, ts.url+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				req.Header[k] = v
			}
			resp, err := noRedirects.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d; body %q", resp.StatusCode, tc.status, b)
			}
			for k, v := range tc.wantHeader {
				if got := resp.Header.Values(k); !reflect.DeepEqual(got, v) {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			for _, s := range tc.want {
				if !strings.Contains(string(b), s) {
					t.Errorf("body %q lacks %q", b, s)
				}
			}
			for _, s := range tc.absent {
				if strings.Contains(string(b), s) {
					t.Errorf("body %q has %q", b, s)
				}
			}
		})
	}
}

// BenchmarkWAGI is the WAGI contract's own cost over HTTP, interleaved
// request by request with the plain one on the same module (echo: the
// CGI response is the body sent), and the Go WAGI example.
func BenchmarkWAGI(b *testing.B) {
	ts := startServer(b, config.Runtime{Workers: 1, Preemption: true},
		testRoute(b, "/plain", "echo"), wagiRoute(b, "/cgi", "echo"), wagiRoute(b, "/hello/...", "gohello/gohello"))
	const cgi = "Content-Type: text/plain\n\nhello"
	benchInterleaved(b, ts, []benchRequest{
		{"plain-echo", "POST", "/plain", cgi}, {"wagi-echo", "POST", "/cgi", cgi}, {"wagi-gohello", "GET", "/hello/ada", ""},
	})
}

// BenchmarkWAGIContract is the host's side of a WAGI request without the
// sandbox: the environment of a browser-like request, as the guest's
// environ_get reads it (wasiargs.go), and the parse of a small response.
func BenchmarkWAGIContract(b *testing.B) {
	r := httptest.NewRequest("GET", "/hello/ada?x=1", nil)
	for k, v := range map[string]string{"User-Agent": "Mozilla/5.0 (X11; Linux x86_64)", "Accept": "text/html,*/*;q=0.8",
		"Accept-Language": "fr-CH, en;q=0.5", "Accept-Encoding": "gzip, deflate", "Cookie": "session=abc123"} {
		r.Header.Set(k, v)
	}
	rt := &route{cfg: config.Route{Path: "/hello/...", Interface: config.InterfaceWAGI}}
	out := []byte("Content-Type: text/plain; charset=utf-8\nStatus: 200 OK\nContent-Language: fr\nX-Greeted: ada\n\nbonjour, ada\n")
	b.Run("env", func(b *testing.B) {
		for range b.N {
			if _, _, err := wagiRequest(r, rt, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	_, env, _ := wagiRequest(r, rt, 0)
	ctx := context.WithValue(context.Background(), sandboxKey{}, &Sandbox{route: rt, wagiEnv: env})
	b.Run("environ", func(b *testing.B) {
		for range b.N {
			if len(environOf(ctx)) != len(env) {
				b.Fatal("environ lost variables")
			}
		}
	})
	b.Run("parse", func(b *testing.B) {
		for range b.N {
			if _, err := parseCGI(out, 64<<10); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzParseCGI: whatever a guest prints, parseCGI answers without
// panicking, either errCGI or a response whose status is final, whose
// headers net/http would send, and whose body is the tail of the output.
func FuzzParseCGI(f *testing.F) {
	for _, seed := range []string{
		"Content-Type: text/plain\n\nhi", "Status: 404 Not Found\r\nContent-Type: a/b\r\n\r\n",
		"Location: /x\n\n", "X: 1\n\n", "\n", "a\nb\n\n", "Status: 200\nStatus: 201\n\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		res, err := parseCGI(out, 256)
		if err != nil {
			if !errors.Is(err, errCGI) {
				t.Fatalf("error %v is not errCGI", err)
			}
			return
		}
		if res.status < 200 || res.status > 599 {
			t.Fatalf("status %d", res.status)
		}
		if !strings.HasSuffix(string(out), string(res.body)) || len(out)-len(res.body) > 256 {
			t.Fatalf("body %q is not the tail of %q after a header block within the limit", res.body, out)
		}
		for k, vs := range res.header {
			for _, v := range vs {
				if !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) {
					t.Fatalf("header %q: %q would not be sent", k, v)
				}
			}
		}
	})
}
