package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pluginConfig is a config whose [[plugin]] "p" (on line 1) has path.
func pluginConfig(path string) []byte {
	return fmt.Appendf(nil, "[[plugin]]\nname = \"p\"\npath = %q\n%s", path, tenant)
}

// TestPluginPaths: a relative plugin path, with or without "./", is the
// file relative to the config's directory, made absolute; each way the
// file can be unusable has its own error, at the path key's line.
func TestPluginPaths(t *testing.T) {
	type state int
	const (
		executable state = iota
		missing
		directory
		plain // a regular file without execute permission
	)
	for _, form := range []struct {
		name    string
		written func(root string) string // the path as written in etc/gosledge.toml
		file    string                   // where it must resolve to, under root
	}{
		{"dot slash", func(string) string { return "./x" }, "etc/x"},
		{"bare name", func(string) string { return "x" }, "etc/x"},
		{"parent", func(string) string { return "../x" }, "x"},
		{"nested", func(string) string { return "bin/x" }, "etc/bin/x"},
		{"absolute", func(root string) string { return filepath.Join(root, "abs", "x") }, "abs/x"},
	} {
		for _, tc := range []struct {
			state state
			want  error  // for errors.Is; nil: no error
			msg   string // what the error says after the key
		}{
			{executable, nil, ""},
			{missing, fs.ErrNotExist, "no such file"},
			{directory, ErrIsDir, "is a directory, not a program"},
			{plain, ErrNotExecutable, "not executable (mode -rw-r--r--)"},
		} {
			t.Run(fmt.Sprintf("%s/%d", form.name, tc.state), func(t *testing.T) {
				root := t.TempDir()
				want := filepath.Join(root, filepath.FromSlash(form.file))
				if err := os.MkdirAll(filepath.Dir(want), 0o755); err != nil {
					t.Fatal(err)
				}
				os.MkdirAll(filepath.Join(root, "etc"), 0o755)
				switch tc.state {
				case executable:
					os.WriteFile(want, []byte("#!/bin/sh\n"), 0o755)
				case directory:
					os.Mkdir(want, 0o755)
				case plain:
					os.WriteFile(want, []byte("#!/bin/sh\n"), 0o644)
				}
				name := filepath.Join(root, "etc", "gosledge.toml")
				written := form.written(root)
				c, err := Parse(name, pluginConfig(written), modules)
				if err != nil {
					t.Fatal(err)
				}
				if got := c.Plugins[0].Path; got != want {
					t.Errorf("path %q resolved to %q, want %q", written, got, want)
				}
				err = c.CheckPlugins()
				if tc.want == nil {
					if err != nil {
						t.Errorf("CheckPlugins: %v", err)
					}
					return
				}
				prefix := fmt.Sprintf("%s:3: plugin \"p\": key \"path\": %q", name, written)
				if !errors.Is(err, tc.want) || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), want) ||
					!strings.Contains(err.Error(), tc.msg) {
					t.Errorf("CheckPlugins = %v\nwant errors.Is %v, prefix %q, naming %s, saying %q", err, tc.want, prefix, want, tc.msg)
				}
			})
		}
	}
}

// TestPluginPathNotInPATH: "./true" in a config in the working directory
// is the missing file ./true, not /usr/bin/true found in $PATH
// (filepath.Join(".", "./true") is "true", which exec.Command looks up).
func TestPluginPathNotInPATH(t *testing.T) {
	inPATH, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true in $PATH to be confused with")
	}
	dir := t.TempDir()
	t.Chdir(dir)
	for _, written := range []string{"./true", "true"} {
		c, err := Parse("gosledge.toml", pluginConfig(written), modules)
		if err != nil {
			t.Fatal(err)
		}
		got := c.Plugins[0].Path
		if got != filepath.Join(dir, "true") || got == inPATH || !filepath.IsAbs(got) {
			t.Errorf("%q resolved to %q, want %q (not %q from $PATH)", written, got, filepath.Join(dir, "true"), inPATH)
		}
		if err := c.CheckPlugins("p"); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "never looked up in $PATH") {
			t.Errorf("CheckPlugins: %v, want no such file", err)
		}
	}
}

// CheckPlugins with names checks only those plugins.
func TestCheckPluginsNamed(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok")
	os.WriteFile(ok, []byte("#!/bin/sh\n"), 0o755)
	src := fmt.Sprintf("[[plugin]]\nname = \"ok\"\npath = %q\n[[plugin]]\nname = \"gone\"\npath = \"gone\"\n%s", ok, tenant)
	c, err := Parse(filepath.Join(dir, "gosledge.toml"), []byte(src), modules)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		names []string
		fails bool
	}{
		{nil, true},
		{[]string{"ok"}, false},
		{[]string{"fifo"}, false}, // not a plugin: nothing to check
		{[]string{"ok", "gone"}, true},
	} {
		err := c.CheckPlugins(tc.names...)
		if (err != nil) != tc.fails || err != nil && !strings.Contains(err.Error(), `gosledge.toml:6: plugin "gone"`) {
			t.Errorf("CheckPlugins(%q) = %v, want failure %v", tc.names, err, tc.fails)
		}
	}
}
