package operators

import (
	"unsafe"

	"github.com/edgeplane/edgeplane/record"
)

// StateMemory is the memory a pipeline's shards preallocate, by part, in
// bytes: what NewShard makes for c.Shards shards of c.
type StateMemory struct {
	// Windows is the window (or pane) slots of StateBudget, the per-key
	// state (MaxSeries × Fields keys per shard: list heads and firing
	// cursors), the timers, the per-series time of SeriesScope, the
	// sessions' purged spans and pending retractions, and the stateless
	// chain's per-key state (deadband, dedup).
	Windows int64
	// Sketches is the quantile sketch pool (SketchBudget sketches per
	// shard). The pages of a sketch not yet used may not be resident, but
	// the Go heap counts the whole allocation against its limit.
	Sketches int64
}

// Total is Windows + Sketches.
func (m StateMemory) Total() int64 { return m.Windows + m.Sketches }

// StateMemory returns the memory NewShard preallocates for c.Shards shards
// of c (after defaults), computed from the same sizing NewShard uses:
// a built shard's stateBytes × Shards. It is meaningful only for a c
// that Validate accepts.
func (c *Config) StateMemory() StateMemory {
	d := c.withDefaults()
	keys := int64(d.MaxSeries) * int64(d.Fields)
	slots := int64(d.StateBudget)
	var w int64
	w += slots * int64(unsafe.Sizeof(slot{}))
	w += keys * int64(unsafe.Sizeof(keyState{}))
	// timerHeap: at (int64) and owner (int32) with room for every owner,
	// pos (int32) per owner.
	const timerBytes = 8 + 4 + 4
	if d.Kind == record.Session {
		w += slots * timerBytes
		w += keys*int64(unsafe.Sizeof(purgedSpan{})) + maxPendingRetractions*int64(unsafe.Sizeof(retraction{}))
	} else {
		w += keys * timerBytes
	}
	if d.seriesScope() {
		w += int64(d.MaxSeries) * (int64(unsafe.Sizeof(seriesTime{})) + timerBytes)
	}
	if len(d.Deadbands) > 0 {
		w += keys * (8 + 8) // last value, last time
	}
	if d.Dedup {
		w += keys * (DedupDepth*8 + 1) // recent times, ring cursor
	}
	var sk int64
	if d.Aggregates&Quantiles != 0 {
		sk = int64(d.SketchBudget) * (int64(sketchBytes) + 4) // + free list
	}
	n := int64(d.Shards)
	return StateMemory{Windows: w * n, Sketches: sk * n}
}

// StateBytes is StateMemory().Total().
func (c *Config) StateBytes() int64 { return c.StateMemory().Total() }
