package config

import (
	"cmp"
	"errors"
	"fmt"
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
)

// CheckPlugins checks that the program of each named [[plugin]] (every
// one if no name is given; a name that is not a plugin is skipped) is an
// executable file. Parse does not look, as a config may declare a plugin
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
		if err := checkProgram(p); err != nil {
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
	written := cmp.Or(p.written, p.Path)
	what := strconv.Quote(written)
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
		return &programError{msg, fs.ErrNotExist}
	case err != nil:
		return fmt.Errorf("%s: %w", what, err)
	case fi.IsDir():
		return &programError{what + ": " + ErrIsDir.Error(), ErrIsDir}
	}
	// LookPath of a path with a separator only checks that file, and asks
	// the kernel (access X_OK) rather than guessing from the mode bits.
	if _, err := exec.LookPath(p.Path); err != nil {
		return &programError{fmt.Sprintf("%s: %s (mode %s)", what, ErrNotExecutable, fi.Mode().Perm()), ErrNotExecutable}
	}
	return nil
}
