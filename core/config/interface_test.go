package config

import "testing"

func TestInterface(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"wagi", tenant + "interface = \"wagi\"\n", ""},
		{"wagi prefix", tenantOnly + "[[tenant.route]]\npath = \"/hello/...\"\nmodule = \"fib.wasm\"\ninterface = \"wagi\"\n", ""},
		{"wagi everything", tenantOnly + "[[tenant.route]]\npath = \"/...\"\nmodule = \"fib.wasm\"\ninterface = \"wagi\"\n", ""},
		{"unknown interface", tenant + "interface = \"cgi\"\n",
			`gosledge.toml:8: tenant "demo" route "/fib": key "interface": want one of ["plain" "wagi"], got "cgi"`},
		{"prefix on a plain route", tenantOnly + "[[tenant.route]]\npath = \"/hello/...\"\nmodule = \"fib.wasm\"\n",
			`gosledge.toml:5: tenant "demo" route "/hello/...": key "path": a path ending in "/..." serves every path below it, which only a route with interface = "wagi" can tell apart; got interface "plain"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("gosledge.toml", []byte(tc.src), modules)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error:\n%v", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Fatalf("got error\n%v\nwant\n%s", err, tc.want)
			case tc.want == "" && c.Tenants[0].Routes[0].Interface != InterfaceWAGI:
				t.Fatalf("interface = %q, want %q", c.Tenants[0].Routes[0].Interface, InterfaceWAGI)
			}
		})
	}
}
