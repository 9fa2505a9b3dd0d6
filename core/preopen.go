package core

import (
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental/sysfs"
)

// preopenFS mounts a route's preopened directories (guest path → host
// directory) read-only. Each host directory is opened as an os.Root, whose
// lookups the kernel resolves beneath it: "..", absolute paths and
// symlinks (absolute or relative) that lead out of it fail, where
// wazero's own WithReadOnlyDirMount joins the guest path to the directory
// and follows any symlink (RATIONALE.md, "Preopens"). ReadFS refuses every
// write, create, rename and unlink before the host sees it.
//
// The roots stay open while the route is served; a route replaced by a
// reload releases them when it is collected (os.Root closes itself then),
// since requests in flight may still read through them.
func preopenFS(dirs map[string]string) (wazero.FSConfig, error) {
	fsc := wazero.NewFSConfig()
	for _, guest := range slices.Sorted(maps.Keys(dirs)) {
		root, err := os.OpenRoot(dirs[guest])
		if err != nil {
			return nil, fmt.Errorf("preopen %q: %w", guest, err)
		}
		ro := &sysfs.ReadFS{FS: &sysfs.AdaptFS{FS: root.FS()}}
		fsc = fsc.(sysfs.FSConfig).WithSysFSMount(ro, guest)
	}
	return fsc, nil
}
