package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWasmPlugin: a kind = "wasm" plugin's module is checked at its path
// key's line (missing, a directory, not a module; no execute bit needed),
// and kind and memory_limit are validated at theirs.
func TestWasmPlugin(t *testing.T) {
	header := "\x00asm\x01\x00\x00\x00"
	for _, tc := range []struct {
		name    string
		extra   string // keys after path
		file    string // the module's content; "-" none, "/" a directory
		parse   string // Parse's error, "" for none
		check   error  // CheckPlugins' error for errors.Is, nil for none
		message string // what CheckPlugins says after the path
	}{
		{name: "ok", file: header + "rest"},
		{name: "missing", file: "-", check: fs.ErrNotExist, message: "no such file"},
		{name: "directory", file: "/", check: ErrIsDir, message: "is a directory"},
		{name: "text", file: "#!/bin/sh\n", check: ErrNotWasm, message: `not a WebAssembly module (kind = "wasm")`},
		{name: "short", file: "\x00asm", check: ErrNotWasm, message: "not a WebAssembly module"},
		{name: "version 2", file: "\x00asm\x02\x00\x00\x00", check: ErrNotWasm, message: "not a WebAssembly module"},
		{name: "memory limit", extra: `memory_limit = "8MiB"`, file: header},
		{name: "memory limit not pages", extra: `memory_limit = "100KiB"`, file: header,
			parse: `:5: plugin "p": key "memory_limit": must be a multiple of 64KiB`},
		{name: "unknown kind", extra: `kind = "dll"`, file: header,
			parse: `:4: plugin "p": key "kind": want one of ["process" "wasm"], got "dll"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			mod := filepath.Join(dir, "p.wasm")
			switch tc.file {
			case "-":
			case "/":
				os.Mkdir(mod, 0o755)
			default:
				os.WriteFile(mod, []byte(tc.file), 0o644)
			}
			name := filepath.Join(dir, "gosledge.toml")
			kind := `kind = "wasm"` // line 4; tc.extra is line 5
			if strings.HasPrefix(tc.extra, "kind") {
				kind, tc.extra = tc.extra, ""
			}
			src := fmt.Sprintf("[[plugin]]\nname = \"p\"\npath = \"p.wasm\"\n%s\n%s\n%s", kind, tc.extra, tenant)
			c, err := Parse(name, []byte(src), modules)
			if tc.parse != "" {
				if err == nil || !strings.Contains(err.Error(), name+tc.parse) {
					t.Fatalf("Parse = %v, want %q", err, tc.parse)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p := c.Plugins[0]; p.Kind != KindWasm || p.Path != mod {
				t.Errorf("plugin %+v", p)
			}
			err = c.CheckPlugins()
			if tc.check == nil {
				if err != nil {
					t.Errorf("CheckPlugins: %v", err)
				}
				return
			}
			prefix := fmt.Sprintf(`%s:3: plugin "p": key "path": "p.wasm" (%s): `, name, mod)
			if !errors.Is(err, tc.check) || !strings.HasPrefix(err.Error(), prefix+tc.message) {
				t.Errorf("CheckPlugins = %v\nwant %v, %q", err, tc.check, prefix+tc.message)
			}
		})
	}
}
