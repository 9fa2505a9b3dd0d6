package queuebound

import (
	"fmt"
	"testing"

	"github.com/gosledge/gosledge/sdk"
)

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		in   sdk.Options
		want int
		err  string
	}{
		{"", 5, "<nil>"},
		{"max_queued = 9", 9, "<nil>"},
		{"max_queued = 0", 5, `key "max_queued": must be at least 1, got 0`},
		{"max_queued = \"x\"", 5, `key "max_queued": incompatible types: TOML value has type string; destination has type integer`},
		{"other = 1\nmax_queued = -1", 5, "key \"other\": unknown key (known: max_queued)\nkey \"max_queued\": must be at least 1, got -1"},
	} {
		got, err := Decode(tc.in, 5)
		if got.MaxQueued != tc.want || fmt.Sprint(err) != tc.err {
			t.Errorf("Decode(%q) = %d, %v; want %d, %s", tc.in, got.MaxQueued, err, tc.want, tc.err)
		}
	}
}
