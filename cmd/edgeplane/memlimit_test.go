package main

import (
	"bytes"
	"log/slog"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/operators"
)

// TestApplyMemoryLimit: gateway.memory_limit less the off-heap window
// state becomes the Go soft limit, unless GOMEMLIMIT is set, which wins;
// the log says which.
func TestApplyMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	m := config.MemoryEstimate{Limit: 300 << 20, Fixed: config.FixedMemory(300 << 20)}
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))

	t.Setenv("GOMEMLIMIT", "")
	if got := applyMemoryLimit(m, log); got != 300<<20 || debug.SetMemoryLimit(-1) != 300<<20 {
		t.Fatalf("limit %d, runtime %d, want 300 MiB", got, debug.SetMemoryLimit(-1))
	}
	// Window state lives off the Go heap: the runtime's limit leaves room
	// for it. Rings stay on the heap.
	withState := m
	withState.Pipelines = []config.PipelineMemory{{State: operators.StateMemory{Shards: 2, Keys: 1000, KeyBytes: 40, Sketches: 10, SketchBytes: 1000},
		RingBytes: 5000, Shards: 2}}
	want := int64(300<<20 - 2*1000*40 - 2*10*1000)
	if got := applyMemoryLimit(withState, log); got != want || debug.SetMemoryLimit(-1) != want {
		t.Fatalf("limit %d, runtime %d, want 300 MiB less the off-heap state = %d", got, debug.SetMemoryLimit(-1), want)
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
	for _, w := range []string{"memory limit from GOMEMLIMIT; gateway.memory_limit not applied", "GOMEMLIMIT=20MiB", "GOMEMLIMIT is below the Go heap"} {
		if !strings.Contains(buf.String(), w) {
			t.Errorf("log lacks %q: %s", w, buf.String())
		}
	}
}

// gcPercent reads the collector's target without changing it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// TestApplyGCPercent: gateway.gc_percent becomes the collector's target
// unless GOGC is set to something the runtime takes, which wins; the log
// says which.
func TestApplyGCPercent(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))

	t.Setenv("GOGC", "")
	if got := applyGCPercent(config.DefaultGCPercent, log); got != config.DefaultGCPercent || gcPercent() != config.DefaultGCPercent {
		t.Fatalf("gc percent %d (runtime %d), want gateway.gc_percent's %d", got, gcPercent(), config.DefaultGCPercent)
	}
	if !strings.Contains(buf.String(), "garbage collector target set from gateway.gc_percent") {
		t.Errorf("log: %s", buf.String())
	}

	// GOGC set: the runtime's value (as it read it at start; set here by
	// hand) is kept.
	buf.Reset()
	t.Setenv("GOGC", "80")
	debug.SetGCPercent(80)
	if got := applyGCPercent(config.DefaultGCPercent, log); got != 80 || gcPercent() != 80 {
		t.Fatalf("gc percent %d (runtime %d), want GOGC's 80", got, gcPercent())
	}
	if !strings.Contains(buf.String(), "gc_percent not applied") || !strings.Contains(buf.String(), "GOGC=80") {
		t.Errorf("log: %s", buf.String())
	}

	// A GOGC the runtime ignored (it used 100): gc_percent applies, with
	// a warning.
	buf.Reset()
	t.Setenv("GOGC", "fifty")
	debug.SetGCPercent(100)
	if got := applyGCPercent(config.DefaultGCPercent, log); got != config.DefaultGCPercent || gcPercent() != config.DefaultGCPercent {
		t.Fatalf("gc percent %d (runtime %d) with GOGC=fifty, want gateway.gc_percent's %d", got, gcPercent(), config.DefaultGCPercent)
	}
	if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "GOGC=fifty") {
		t.Errorf("log: %s", buf.String())
	}
}

// keepRuntimeSettings restores the collector's target and the soft
// memory limit when the test ends: launch sets both for the whole
// process, and later tests in this binary must not inherit them.
func keepRuntimeSettings(t *testing.T) {
	gc, limit := gcPercent(), debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(gc)
		debug.SetMemoryLimit(limit)
	})
}
