package sdk_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gosledge/gosledge/plugins/edf"
	"github.com/gosledge/gosledge/plugins/mtdbf"
	"github.com/gosledge/gosledge/plugins/mtds"
	"github.com/gosledge/gosledge/sdk"
)

type settings struct {
	Period  time.Duration `toml:"period"`
	Limit   int           `toml:"limit"`
	Share   float64       `toml:"share"`
	On      bool          `toml:"on"`
	Names   []string      `toml:"names"`
	Untag   string
	Skipped string `toml:"-"`
	hidden  string
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name    string
		options sdk.Options
		want    settings
		errs    []string // the OptionErrors, in key order
	}{
		{"empty keeps the defaults", "", settings{Limit: 9}, nil},
		{"every type", "period = \"15ms\"\nlimit = 3\nshare = 0.5\non = true\nnames = [\"a\", \"b\"]\nUntag = \"u\"\n",
			settings{Period: 15 * time.Millisecond, Limit: 3, Share: 0.5, On: true, Names: []string{"a", "b"}, Untag: "u"}, nil},
		{"unknown keys are errors, in key order, and the rest still decodes", "zeta = 1\nlimit = 4\nalpha = 2\n", settings{Limit: 4},
			[]string{`key "alpha": unknown key (known: Untag, limit, names, on, period, share)`, `key "zeta": unknown key (known: Untag, limit, names, on, period, share)`}},
		{"a field tagged - is not a key", "Skipped = \"x\"\n", settings{Limit: 9},
			[]string{`key "Skipped": unknown key (known: Untag, limit, names, on, period, share)`}},
		{"wrong types name their key", "limit = \"many\"\non = 1\n", settings{Limit: 9},
			[]string{`key "limit": incompatible types: TOML value has type string; destination has type integer`,
				`key "on": incompatible types: TOML value has type int64; destination has type boolean`}},
		{"a bad duration", "period = \"soon\"\n", settings{Limit: 9}, []string{`key "period": invalid duration: "soon"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := settings{Limit: 9}
			err := tc.options.Decode(&got)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("decoded %+v, want %+v", got, tc.want)
			}
			oes := sdk.OptionErrors(err)
			var msgs []string
			for _, oe := range oes {
				msgs = append(msgs, oe.Error())
			}
			if fmt.Sprint(msgs) != fmt.Sprint(tc.errs) {
				t.Errorf("errors %q, want %q", msgs, tc.errs)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	var n int
	if err := sdk.Options("").Decode(&n); err == nil || len(sdk.OptionErrors(err)) != 0 {
		t.Errorf("Decode(*int) = %v, want a plain error", err)
	}
	var s settings
	if err := sdk.Options("limit = ").Decode(&s); err == nil || len(sdk.OptionErrors(err)) != 0 {
		t.Errorf("Decode of bad TOML = %v, want a plain error", err)
	}
}

func TestOptionErrors(t *testing.T) {
	a := &sdk.OptionError{Key: "a", Err: errors.New("bad")}
	b := &sdk.OptionError{Key: "b", Err: errors.New("worse")}
	err := fmt.Errorf("policy: %w", errors.Join(a, errors.New("plain"), fmt.Errorf("wrapped: %w", b)))
	if got := sdk.OptionErrors(err); len(got) != 2 || got[0] != a || got[1] != b {
		t.Fatalf("OptionErrors = %v", got)
	}
	if sdk.ForTenant("t", err) != err || a.Tenant != "t" || b.Tenant != "t" {
		t.Fatalf("ForTenant: tenants %q %q", a.Tenant, b.Tenant)
	}
	if got := a.Error(); got != `tenant "t": key "a": bad` {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(err, a.Err) {
		t.Error("an OptionError does not unwrap to its cause")
	}
	if sdk.OptionErrors(nil) != nil {
		t.Error("OptionErrors(nil) is not empty")
	}
}

// TestExtensions: ExtensionsOf finds each optional interface, and Mask's
// bits are in field order (both plugin transports rely on them).
func TestExtensions(t *testing.T) {
	for _, tc := range []struct {
		p    sdk.Policy
		mask uint32
	}{
		{edf.New(), 0},
		{mtds.New(), 1 | 2 | 4 | 16},      // Charger, Configurer, Admitter, Reporter
		{mtdbf.New(), 1 | 2 | 4 | 8 | 16}, // all five
	} {
		x := sdk.ExtensionsOf(tc.p)
		if got := x.Mask(); got != tc.mask {
			t.Errorf("%s: Mask() = %05b, want %05b (%+v)", tc.p.Name(), got, tc.mask, x)
		}
	}
}
