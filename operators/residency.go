package operators

import (
	"math"

	"github.com/edgeplane/edgeplane/record"
)

// Resident memory. NewShard allocates every array its bounds need
// (MaxSeries × Fields keys, StateBudget slots, the timer heaps) but writes
// none of them: a large allocation is fresh zeroed memory from the kernel,
// which enters the process's resident set only when a page is written. So
// the state is initialised as it comes into use — keys one by one, in
// order of first use, for the (series, field) pairs samples bring
// (keyFor); series clocks in chunks of prepareChunk series when a sample
// first reaches them; slots one by one when allocSlot first hands them
// out — and the resident set follows the pairs seen, not max_series ×
// fields. The bounds, the validate
// arithmetic (memory.go) and the no-allocation guarantee are unchanged:
// nothing here allocates.
//
// Every reader of per-key or per-series state stays below ready (readyKeys,
// OpenWindows, scanSeries, SeriesWatermark); a slot at or above fresh is
// never linked anywhere.

// prepareChunk is how many series prepare initialises at once: 64 series
// clocks touch about one page of each array.
const prepareChunk = 64

// prepare initialises the per-series clocks (SeriesScope) of the series
// below the chunk that holds ser (ser >= s.ready, ser < s.series).
func (s *Shard) prepare(ser uint32) {
	end := min(s.series, (ser/prepareChunk+1)*prepareChunk)
	if s.perSeries {
		for i := s.ready; i < end; i++ {
			s.sc.st[i] = seriesTime{max: NoWatermark, seen: NoWatermark, wm: NoWatermark, next: math.MaxInt64}
		}
		s.sc.wall.initOwners(int(s.ready), int(end))
	}
	s.ready = end
}

// keyFor returns the key of field of series, taking and initialising the
// next one on the pair's first sample. A series carries a few of a
// pipeline's fields (each sensor type its own): keys numbered in order of
// use keep the resident state to the pairs seen, where keys indexed by
// series × fields made every series resident for every field, in every
// shard.
func (s *Shard) keyFor(series uint32, field int32) int32 {
	gk := series*uint32(s.fields) + uint32(field)
	if k := s.keyIdx[gk]; k != 0 {
		return int32(k - 1)
	}
	k := s.nkeys
	s.nkeys++
	s.keys[k] = keyState{head: -1, tail: -1, cursor: NoWatermark, gk: gk}
	s.chain.initKeys(int(k), int(k)+1)
	if s.kind != record.Session {
		s.timers.initOwners(int(k), int(k)+1) // aligned timers are per key
	}
	s.keyIdx[gk] = uint32(k) + 1
	return k
}

// pairOf returns the series and field of key.
func (s *Shard) pairOf(key int32) (series uint32, field uint16) {
	gk := s.keys[key].gk
	return gk / uint32(s.fields), uint16(gk % uint32(s.fields))
}

// keyOf returns the key of field of series, or -1 before its first
// sample. series must be below s.ready or s.series.
func (s *Shard) keyOf(series uint32, field int32) int32 {
	return int32(s.keyIdx[series*uint32(s.fields)+uint32(field)]) - 1
}

// freshSlot initialises slot i, handed out for the first time.
func (s *Shard) freshSlot(i int32) {
	if s.kind == record.Session {
		s.timers.initOwners(int(i), int(i)+1) // session timers are per slot
	}
}

// readyKeys returns the number of keys in use: keys at and above it hold
// nothing.
func (s *Shard) readyKeys() int { return int(s.nkeys) }
