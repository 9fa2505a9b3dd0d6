// Command gohello is a WAGI function (a route with interface = "wagi"): it
// greets the name below its route (GET /hello/ada), else in ?name=, else in
// an X-Name header, in the language Accept-Language asks for first (en, fr,
// de or es), and says so in a Content-Language header and an X-Greeted
// header. No name: 400; a method other than GET or HEAD: 405 with Allow.
// Any WAGI host runs it; it needs nothing of gosledge. A standard Go
// program, built for WASI preview 1:
//
//	GOOS=wasip1 GOARCH=wasm go build -trimpath -ldflags=-s -o gohello.wasm .
package main

import (
	"fmt"
	"net/url"
	"os"
	"strings"
)

var greetings = map[string]string{"en": "hello", "fr": "bonjour", "de": "hallo", "es": "hola"}

func main() {
	if m := os.Getenv("REQUEST_METHOD"); m != "GET" && m != "HEAD" {
		reply("405 Method Not Allowed", []string{"Allow: GET, HEAD"}, "method "+m+" not allowed\n")
		return
	}
	name := strings.Trim(os.Getenv("PATH_INFO"), "/")
	if name == "" {
		q, _ := url.ParseQuery(os.Getenv("QUERY_STRING"))
		name = q.Get("name")
	}
	if name == "" {
		name = os.Getenv("HTTP_X_NAME")
	}
	if name == "" || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		reply("400 Bad Request", nil, "say who: /hello/NAME, ?name=NAME or an X-Name header\n")
		return
	}
	lang := language(os.Getenv("HTTP_ACCEPT_LANGUAGE"))
	reply("200 OK", []string{"Content-Language: " + lang, "X-Greeted: " + name},
		fmt.Sprintf("%s, %s\n", greetings[lang], name))
}

// language is the first of Accept-Language's languages (in the order
// given; q values are not weighed) that it has a greeting for, else "en".
func language(accept string) string {
	for _, part := range strings.Split(accept, ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		primary, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if _, ok := greetings[primary]; ok {
			return primary
		}
	}
	return "en"
}

// reply prints the CGI headers, the empty line that ends them, and body.
func reply(status string, headers []string, body string) {
	var b strings.Builder
	b.WriteString("Content-Type: text/plain; charset=utf-8\nStatus: " + status + "\n")
	for _, h := range headers {
		b.WriteString(h + "\n")
	}
	b.WriteString("\n" + body)
	os.Stdout.WriteString(b.String())
}
