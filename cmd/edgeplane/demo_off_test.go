//go:build !demo

package main

import (
	"strings"
	"testing"
)

// TestGatewayHasNoDemo: the gateway binary refuses `demo` and says how
// to get it; with -tags demo the demo's own tests run instead.
func TestGatewayHasNoDemo(t *testing.T) {
	code, _, errOut := runCLI("demo", "--duration", "1s")
	if code != 1 || !strings.Contains(errOut, "make run") || !strings.Contains(errOut, "-tags demo") {
		t.Fatalf("demo in the gateway binary: exit %d, stderr %q", code, errOut)
	}
}
