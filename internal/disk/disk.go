// Package disk reports the space of the filesystem under a path: what
// JetStream's file store can still write there (Space), for the buffer's
// recovery after a full disk and for the disk budget validate checks.
package disk

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrUnsupported is returned where the platform cannot report space.
var ErrUnsupported = errors.New("disk: free space not available on this platform")

// Usage is the space of one filesystem, in bytes.
type Usage struct {
	// Free is what an unprivileged writer can still use (statfs f_bavail).
	Free uint64
	// Total is the filesystem's size.
	Total uint64
	// Path is the existing directory that was measured: path itself or
	// its nearest existing parent.
	Path string
}

// Space measures the filesystem path is (or will be) on: a path that does
// not exist yet is measured at its nearest existing parent, where it would
// be created.
func Space(path string) (Usage, error) {
	p, err := filepath.Abs(path)
	if err != nil {
		return Usage{}, fmt.Errorf("disk: %w", err)
	}
	for {
		if _, err := os.Stat(p); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return Usage{}, fmt.Errorf("disk: %w", err)
		}
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		p = parent
	}
	u, err := statfs(p)
	if err != nil {
		return Usage{}, fmt.Errorf("disk: statfs %s: %w", p, err)
	}
	u.Path = p
	return u, nil
}
