package main

import (
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/edgeplane/edgeplane/config"
)

// applyMemoryLimit sets the Go runtime's soft memory limit to
// gateway.memory_limit less the window state kept off the Go heap
// (MemoryEstimate.GoLimit), unless the GOMEMLIMIT environment variable is
// set: the runtime has read it at start, and it wins. It logs which limit
// is in effect, with the estimate validation checked against
// memory_limit, and returns the limit in effect.
func applyMemoryLimit(m config.MemoryEstimate, log *slog.Logger) int64 {
	attrs := []any{"memory_limit", m.Limit, "state_bytes", m.State(), "off_heap_bytes", m.OffHeap(), "fixed_bytes", m.Fixed}
	if env, ok := os.LookupEnv("GOMEMLIMIT"); ok && env != "" {
		cur := debug.SetMemoryLimit(-1)
		log.Info("memory limit from GOMEMLIMIT; gateway.memory_limit not applied",
			append([]any{"GOMEMLIMIT", env, "limit_bytes", cur}, attrs...)...)
		if need := m.Total() - m.OffHeap(); cur < need {
			log.Warn("GOMEMLIMIT is below the Go heap the pipelines' bounds need; the garbage collector will run hard",
				"limit_bytes", cur, "need_bytes", need)
		}
		return cur
	}
	debug.SetMemoryLimit(m.GoLimit())
	log.Info("memory limit set from gateway.memory_limit, less the window state kept off the Go heap", append([]any{"go_limit_bytes", m.GoLimit()}, attrs...)...)
	return m.GoLimit()
}

// applyGCPercent sets the garbage collector's target percentage to
// gateway.gc_percent, unless the GOGC environment variable is set to
// something the runtime takes ("off" or a number): the runtime has read
// it at start, and it wins. A GOGC the runtime ignored (it then uses 100)
// is logged and gc_percent applied. It logs which is in effect and
// returns it (-1: off).
func applyGCPercent(pct int, log *slog.Logger) int {
	if env, ok := os.LookupEnv("GOGC"); ok && env != "" {
		if _, err := strconv.ParseInt(env, 10, 32); env == "off" || err == nil {
			cur := debug.SetGCPercent(-1)
			debug.SetGCPercent(cur)
			log.Info("garbage collector target from GOGC; gateway.gc_percent not applied", "GOGC", env, "gc_percent", cur)
			return cur
		}
		log.Warn("GOGC is neither a number nor off, and the runtime ignored it; gateway.gc_percent applied", "GOGC", env)
	}
	debug.SetGCPercent(pct)
	log.Info("garbage collector target set from gateway.gc_percent", "gc_percent", pct)
	return pct
}
