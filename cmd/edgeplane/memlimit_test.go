package main

import (
	"bytes"
	"log/slog"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/edgeplane/edgeplane/config"
)

// TestApplyMemoryLimit: gateway.memory_limit becomes the Go soft limit,
// unless GOMEMLIMIT is set, which wins; the log says which.
func TestApplyMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	m := config.MemoryEstimate{Limit: 300 << 20, Fixed: config.FixedMemoryBytes}
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))

	t.Setenv("GOMEMLIMIT", "")
	if got := applyMemoryLimit(m, log); got != 300<<20 || debug.SetMemoryLimit(-1) != 300<<20 {
		t.Fatalf("limit %d, runtime %d, want 300 MiB", got, debug.SetMemoryLimit(-1))
	}
	if !strings.Contains(buf.String(), "memory limit set from gateway.memory_limit") {
		t.Errorf("log: %s", buf.String())
	}

	// GOMEMLIMIT set: the runtime's limit (as the runtime read it at
	// start; set here by hand) is kept.
	buf.Reset()
	t.Setenv("GOMEMLIMIT", "20MiB")
	debug.SetMemoryLimit(20 << 20)
	if got := applyMemoryLimit(m, log); got != 20<<20 || debug.SetMemoryLimit(-1) != 20<<20 {
		t.Fatalf("limit %d, runtime %d, want GOMEMLIMIT's 20 MiB", got, debug.SetMemoryLimit(-1))
	}
	for _, w := range []string{"memory limit from GOMEMLIMIT; gateway.memory_limit not applied", "GOMEMLIMIT=20MiB", "GOMEMLIMIT is below the memory"} {
		if !strings.Contains(buf.String(), w) {
			t.Errorf("log lacks %q: %s", w, buf.String())
		}
	}
}
