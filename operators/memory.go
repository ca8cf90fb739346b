package operators

import (
	"unsafe"

	"github.com/edgeplane/edgeplane/record"
)

// StateMemory is the memory a pipeline's shards preallocate, in bytes:
// what NewShard makes for Shards shards of a Config, as counts and unit
// sizes so that a message can show the arithmetic. Every shard holds
// Keys = MaxSeries × Fields keys (series ids index the state directly),
// Slots window (or pane) slots (StateBudget), Series per-series clocks
// (SeriesScope only) and Sketches quantile sketches (SketchBudget).
type StateMemory struct {
	Shards                int64
	Keys, KeyBytes        int64 // per key: list head, firing cursor, timer, session span, chain state
	Slots, SlotBytes      int64 // per slot: the window's state (its timer for sessions, its sparseSketch with quantiles)
	Series, SeriesBytes   int64 // per series: its clock and wall-clock timer
	OtherBytes            int64 // per shard: the sessions' pending retractions
	Sketches, SketchBytes int64 // per sketch, with its free-list entry
}

// Windows is the window state of all shards: keys, slots, per-series
// clocks and the stateless chain's per-key state (deadband, dedup).
func (m StateMemory) Windows() int64 {
	return m.Shards * (m.Keys*m.KeyBytes + m.Slots*m.SlotBytes + m.Series*m.SeriesBytes + m.OtherBytes)
}

// SketchPool is the quantile sketch pool of all shards. The pages of a
// sketch not yet used may not be resident, but the Go heap counts the
// whole allocation against its limit.
func (m StateMemory) SketchPool() int64 { return m.Shards * m.Sketches * m.SketchBytes }

// Total is Windows + SketchPool.
func (m StateMemory) Total() int64 { return m.Windows() + m.SketchPool() }

// StateMemory returns the memory NewShard preallocates for c.Shards shards
// of c (after defaults), from the same sizing NewShard uses: it equals a
// built shard's stateBytes × Shards. It is meaningful only for a c that
// Validate accepts.
func (c *Config) StateMemory() StateMemory {
	d := c.withDefaults()
	// timerHeap: at (int64) and owner (int32) with room for every owner,
	// pos (int32) per owner.
	const timerBytes = 8 + 4 + 4
	m := StateMemory{
		Shards:   int64(d.Shards),
		Keys:     int64(d.MaxSeries) * int64(d.Fields),
		KeyBytes: int64(unsafe.Sizeof(keyState{})) + 4, // with its keyIdx entry
		Slots:    int64(d.StateBudget), SlotBytes: int64(unsafe.Sizeof(slot{})),
	}
	if d.Kind == record.Session {
		m.SlotBytes += timerBytes
		m.KeyBytes += int64(unsafe.Sizeof(purgedSpan{}))
		m.OtherBytes = maxPendingRetractions * int64(unsafe.Sizeof(retraction{}))
	} else {
		m.KeyBytes += timerBytes
	}
	if d.seriesScope() {
		m.Series, m.SeriesBytes = int64(d.MaxSeries), int64(unsafe.Sizeof(seriesTime{}))+timerBytes
	}
	if len(d.Deadbands) > 0 {
		m.KeyBytes += 8 + 8 // last value, last time
	}
	if d.Dedup {
		m.KeyBytes += DedupDepth*8 + 1 // recent times, ring cursor
	}
	if d.Aggregates&Quantiles != 0 {
		m.SlotBytes += int64(sparseBytes) // the slot's sparseSketch
		m.Sketches, m.SketchBytes = int64(d.SketchBudget), int64(sketchBytes)+4
	}
	return m
}

// StateBytes is StateMemory().Total().
func (c *Config) StateBytes() int64 { return c.StateMemory().Total() }
