package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
)

// What keeps a [[plugin]]'s program from running, besides fs.ErrNotExist;
// for errors.Is on CheckPlugins' error.
var (
	ErrIsDir         = errors.New("is a directory, not a program")
	ErrNotExecutable = errors.New("not executable")
	// ErrNotWasm: a kind = "wasm" plugin's file does not start with the
	// WebAssembly magic and version 1.
	ErrNotWasm = errors.New("not a WebAssembly module")
)

// CheckPlugins checks that the program of each named [[plugin]] (every
// one if no name is given; a name that is not a plugin is skipped) is an
// executable file, or for kind = "wasm" a file that starts like a module
// (ErrNotWasm; whether it compiles and keeps to the ABI is the core's to
// say when it loads it). Parse does not look, as a config may declare a plugin
// it does not use and that is not built; sledge validate checks them all,
// serve and bench the ones they start. Problems are reported like Parse's,
// one per line, each wrapping fs.ErrNotExist, ErrIsDir, ErrNotExecutable
// or stat's error:
//
//	gosledge.toml:12: plugin "llf": key "path": "./llf" (/etc/gosledge/llf): no such file; ...
func (c *Config) CheckPlugins(names ...string) error {
	var errs []error
	for i, p := range c.Plugins {
		if p.Path == "" || len(names) > 0 && !slices.Contains(names, p.Name) {
			continue
		}
		check := checkProgram
		if p.Kind == KindWasm {
			check = checkModule
		}
		if err := check(p); err != nil {
			errs = append(errs, fmt.Errorf("%s: plugin %q: key %q: %w", c.Where("plugin", strconv.Itoa(i), "path"), p.Name, "path", err))
		}
	}
	return errors.Join(errs...)
}

// programError is why a plugin's program cannot run, worded for the
// operator, with the cause for errors.Is.
type programError struct {
	msg string
	err error
}

func (e *programError) Error() string { return e.msg }
func (e *programError) Unwrap() error { return e.err }

// checkProgram says why p's program cannot be run, or nil.
func checkProgram(p Plugin) error {
	what, err := statFile(p)
	if err != nil {
		return err
	}
	// LookPath of a path with a separator only checks that file, and asks
	// the kernel (access X_OK) rather than guessing from the mode bits.
	if _, err := exec.LookPath(p.Path); err != nil {
		fi, _ := os.Stat(p.Path)
		return &programError{fmt.Sprintf("%s: %s (mode %s)", what, ErrNotExecutable, fi.Mode().Perm()), ErrNotExecutable}
	}
	return nil
}

// statFile checks that p's path is a file, and returns it quoted as
// written (and resolved) for messages.
func statFile(p Plugin) (what string, err error) {
	written := cmp.Or(p.written, p.Path)
	what = strconv.Quote(written)
	if written != p.Path {
		what += " (" + p.Path + ")"
	}
	fi, err := os.Stat(p.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		msg := what + ": no such file"
		if !filepath.IsAbs(written) {
			msg += "; a relative path is relative to the config file's directory, never looked up in $PATH"
		}
		return what, &programError{msg, fs.ErrNotExist}
	case err != nil:
		return what, fmt.Errorf("%s: %w", what, err)
	case fi.IsDir():
		return what, &programError{what + ": " + ErrIsDir.Error(), ErrIsDir}
	}
	return what, nil
}

// wasmHeader is how every WebAssembly 1.0 module starts.
var wasmHeader = []byte("\x00asm\x01\x00\x00\x00")

// checkModule says why p's module cannot be loaded, as far as its first
// bytes tell, or nil.
func checkModule(p Plugin) error {
	what, err := statFile(p)
	if err != nil {
		return err
	}
	f, err := os.Open(p.Path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	head := make([]byte, len(wasmHeader))
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, wasmHeader) {
		return &programError{what + ": " + ErrNotWasm.Error() + " (kind = \"wasm\")", ErrNotWasm}
	}
	return nil
}
