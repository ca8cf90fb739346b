package operators

import (
	"math"

	"github.com/edgeplane/edgeplane/record"
)

// Resident memory. NewShard allocates every array its bounds need
// (MaxSeries × Fields keys, StateBudget slots, the timer heaps) but writes
// none of them: a large allocation is fresh zeroed memory from the kernel,
// which enters the process's resident set only when a page is written. So
// the state is initialised as it comes into use — keys and series clocks
// in chunks of prepareChunk series when a sample first reaches them, slots
// one by one when allocSlot first hands them out — and the resident set
// follows the series seen, not max_series. The bounds, the validate
// arithmetic (memory.go) and the no-allocation guarantee are unchanged:
// nothing here allocates.
//
// Every reader of per-key or per-series state stays below ready (readyKeys,
// OpenWindows, scanSeries, SeriesWatermark); a slot at or above fresh is
// never linked anywhere.

// prepareChunk is how many series prepare initialises at once: 64 series
// of one field are 1.5 KiB of keys, so a chunk touches about one page of
// each array.
const prepareChunk = 64

// prepare initialises the state of the series below the chunk that holds
// ser (ser >= s.ready, ser < s.series).
func (s *Shard) prepare(ser uint32) {
	end := min(s.series, (ser/prepareChunk+1)*prepareChunk)
	from, to := int(s.ready)*int(s.fields), int(end)*int(s.fields)
	for i := from; i < to; i++ {
		s.keys[i] = keyState{head: -1, tail: -1, cursor: NoWatermark}
	}
	s.chain.initKeys(from, to)
	if s.kind != record.Session {
		s.timers.initOwners(from, to) // aligned timers are per key
	}
	if s.perSeries {
		for i := s.ready; i < end; i++ {
			s.sc.st[i] = seriesTime{max: NoWatermark, seen: NoWatermark, wm: NoWatermark, next: math.MaxInt64}
		}
		s.sc.wall.initOwners(int(s.ready), int(end))
	}
	s.ready = end
}

// freshSlot initialises slot i, handed out for the first time.
func (s *Shard) freshSlot(i int32) {
	if s.kind == record.Session {
		s.timers.initOwners(int(i), int(i)+1) // session timers are per slot
	}
}

// readyKeys returns the number of keys of the series prepared so far:
// keys at and above it hold nothing.
func (s *Shard) readyKeys() int { return int(s.ready) * int(s.fields) }
