// Package version holds the build's version, stamped by the Makefile with
// -ldflags "-X github.com/edgeplane/edgeplane/internal/version.Version=…".
package version

import "runtime"

// Version is the release or git describe of the build; "dev" when built
// without the Makefile.
var Version = "dev"

// String returns the version line both binaries print.
func String(name string) string {
	return name + " " + Version + " (" + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")"
}
