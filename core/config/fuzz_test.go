package config

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// errorLinePattern is the shape of every line of a config error: the file, a
// line number where one exists, then the message.
var errorLinePattern = regexp.MustCompile(`^fuzz\.toml(:[0-9]+)?: \S`)

// FuzzParse feeds the decoder arbitrary bytes: it must never panic, and
// every line of every error it returns must name the file (and, for
// anything in the file, the line).
func FuzzParse(f *testing.F) {
	ref, err := os.ReadFile("reference.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(ref))
	f.Add(tenant)
	f.Add("[runtime]\nworkers = 1\nworkers = 2\n" + tenant)
	f.Add("[runtime]\nquantum = \"5\"\n" + tenant)
	f.Add(tenant + "timeout = \"1s\"\ntimeout = \"2s\"\n")
	f.Add("[[tenant]]\nname = 1\n[[tenant.route]]\npath = []\n")
	f.Fuzz(func(t *testing.T, src string) {
		c, err := Parse("fuzz.toml", []byte(src), modules)
		if err == nil {
			if c == nil {
				t.Fatal("no config and no error")
			}
			return
		}
		if c != nil {
			t.Fatal("a config with an error")
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !errorLinePattern.MatchString(line) {
				t.Fatalf("error line %q does not start with fuzz.toml[:line]: ", line)
			}
		}
	})
}
