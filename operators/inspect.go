package operators

import "github.com/edgeplane/edgeplane/record"

// Read-only views of a shard's window state, for the gateway's inspection
// API. Like Process, they must be called from the shard's own goroutine
// (between batches): they read state Process mutates. None of them
// changes state, counts, or emits.

// Fields returns the number of fields per series.
func (s *Shard) Fields() int { return int(s.fields) }

// OpenSlots returns how many window (or pane) slots the series's fields
// hold: its open state. 0 for an unknown series.
func (s *Shard) OpenSlots(series uint32) int {
	if series >= s.ready {
		return 0
	}
	n := 0
	for f := range s.fields {
		if key := s.keyOf(series, f); key >= 0 {
			n += int(s.keys[key].n)
		}
	}
	return n
}

// OpenWindows calls fn with the partial aggregate of every window of
// series that holds data and has not expired, field by field and in start
// order: what the window would emit if it fired now (same fields, revision
// = the revision of its next emission, Late as counted so far), never
// flagged final. a is only valid during the call. Windows that already
// fired and still accept late readings (allowed lateness) are included:
// their partial aggregate is their last emission plus what came since.
func (s *Shard) OpenWindows(series uint32, fn func(a *record.Aggregate)) {
	if series >= s.ready {
		return
	}
	for f := range s.fields {
		key := s.keyOf(series, f)
		if key < 0 {
			continue
		}
		k := &s.keys[key]
		if k.head < 0 {
			continue
		}
		switch {
		case s.kind == record.Session:
			for i := k.head; i >= 0; i = s.slots[i].next {
				w := &s.slots[i]
				if w.acc.n == 0 {
					continue
				}
				s.partial(key, w.start, w.end, &w.acc, s.skOf(i), w.fires, w.late, fn)
			}
		case s.pane == s.size:
			for i := k.head; i >= 0; i = s.slots[i].next {
				sl := &s.slots[i]
				if sl.acc.n == 0 || sl.start+s.size-1+s.lateness <= s.cur {
					continue
				}
				s.partial(key, sl.start, sl.start+s.size, &sl.acc, s.skOf(i), sl.fires, sl.late, fn)
			}
		default:
			s.openHopping(key, fn)
		}
	}
}

// openHopping is OpenWindows for one key of hopping windows: each window
// merges its panes, as emitAligned does, into the shard's scratch state.
func (s *Shard) openHopping(key int32, fn func(a *record.Aggregate)) {
	k := &s.keys[key]
	h := &s.slots[k.head]
	last := s.slots[k.tail].end - s.size
	for ws := s.firstWinFrom(h.start, h.end-s.size); ws <= last; ws += s.adv {
		if ws+s.size-1+s.lateness <= s.cur {
			continue // expired
		}
		a := &s.scratch
		a.reset()
		var sk *Sketch
		if s.set&Quantiles != 0 {
			sk = &s.scratchSk
			sk.Reset()
		}
		end := ws + s.size
		for i := k.head; i >= 0; i = s.slots[i].next {
			sl := &s.slots[i]
			if sl.start < ws {
				continue
			}
			if sl.start >= end {
				break
			}
			a.merge(&sl.acc, s.set)
			if sk != nil && !s.skMergeInto(sk, i) {
				sk = nil // a pane without quantiles: the window has none
			}
		}
		if a.n == 0 {
			continue
		}
		var rev, late uint32
		if m := s.findPane(key, ws, false, true); m >= 0 {
			rev, late = s.slots[m].fires, s.slots[m].late
		}
		s.partial(key, ws, end, a, sk, rev, late, fn)
	}
}

// partial fills an aggregate as emit does (fillAgg), without counting or
// emitting, and passes it to fn. It uses emit's record (free between
// batches: emit overwrites it whole), so inspection does not allocate.
func (s *Shard) partial(key int32, start, end int64, a *acc, sk *Sketch, rev, late uint32, fn func(*record.Aggregate)) {
	fn(s.fillAgg(key, start, end, a, sk, rev, late))
}
