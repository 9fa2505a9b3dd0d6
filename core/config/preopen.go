package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
)

// resolvePreopens makes r's preopened host directories absolute against
// dir, the config file's directory, keeping what was written for messages.
func (r *Route) resolvePreopens(dir string) {
	if len(r.Preopen) == 0 {
		return
	}
	r.preopenWritten = maps.Clone(r.Preopen)
	for guest, host := range r.Preopen {
		r.Preopen[guest] = resolveProgram(dir, host)
	}
}

// checkPreopens reports, at each preopen's own key, a guest path that is
// not absolute and clean, and a host path that is not a directory.
func (s scope) checkPreopens(r *Route) {
	ps := scope{s.d, append(s.path[:len(s.path):len(s.path)], "preopen")}
	for _, guest := range slices.Sorted(maps.Keys(r.Preopen)) {
		if !ps.checkable(guest) {
			continue
		}
		err := checkGuestPath(guest)
		if err == nil {
			err = checkHostDir(r.preopenWritten[guest], r.Preopen[guest])
		}
		if err != nil {
			kp := append(ps.path[:len(ps.path):len(ps.path)], guest)
			s.d.problemAt(kp, s.path, "key %q %q: %v", "preopen", guest, err)
		}
	}
}

func checkGuestPath(p string) error {
	if len(p) == 0 || p[0] != '/' || path.Clean(p) != p {
		return fmt.Errorf("the guest path must be absolute and clean, such as \"/data\"")
	}
	return nil
}

// checkHostDir checks that abs, written as written, is a directory.
func checkHostDir(written, abs string) error {
	st, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("host directory %q (%s) does not exist", written, abs)
	case err != nil:
		return fmt.Errorf("host directory %q: %w", written, err)
	case !st.IsDir():
		return fmt.Errorf("host path %q (%s) is not a directory", written, abs)
	}
	return nil
}
