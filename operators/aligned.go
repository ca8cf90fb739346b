package operators

import "github.com/edgeplane/edgeplane/record"

// Tumbling and hopping windows (aligned windows).
//
// A tumbling window is a hopping window whose advance equals its size, so
// both share this engine. State is kept per pane: a pane is
// [p, p+gcd(size, advance)), aligned like the windows, and every window is
// the union of size/pane consecutive panes. An event updates exactly one
// pane, whatever the number of windows containing it; firing a window
// merges its panes (WINDOWS.md rule 3).
//
// Per key the panes form a list sorted by start (in-order events land at
// the tail, found first). Windows fire in start order; keyState.cursor is
// the last window handled. Each key has one timer: the earlier of the next
// window's firing time and the head pane's purge time.
//
// Times (W = [ws, ws+size), L = allowed lateness, WM = watermark):
//   - fire:   WM >= ws+size-1 (update mode) or ws+size-1+L (final mode)
//   - accept: an event at t is accepted iff its last window
//     (alignDown(t, advance)) has ws+size-1+L > WM; rule 6
//   - purge:  a pane is dropped when the last window containing it is
//     purged, WM >= lastWin+size-1+L
//   - late:   an accepted event is late for each of its windows with
//     ws+size-1 <= WM; in update mode each of those re-fires at once with
//     the cumulative result (Revision+1)
//
// A pane's slot.end is lastWin(start)+size, the end of the last window
// containing it, set when the pane is made: firing and purging read it
// instead of realigning the pane's start. With the window and pane caches
// (alignCache) and firstWinFrom, the steady state does no division.

// lastWin is the start of the last window containing t.
func (s *Shard) lastWin(t int64) int64 { return s.alignDown(t, s.adv) }

// firstWin is the start of the first window containing t: the smallest
// aligned start > t − size. As in Flink (WINDOWS.md rule 3), windows start
// before the epoch too: an event at t < 0 is in every window containing
// it, like any other (alignDown floors, it does not truncate toward 0).
// Not inlined: its division stays out of firstWinFrom, which the
// per-sample path inlines.
//
//go:noinline
func (s *Shard) firstWin(t int64) int64 { return s.alignDown(t-s.size, s.adv) + s.adv }

// alignCache is the last aligned range [lo, hi] (hi = lo+step-1) found for
// its step, the advance (windows) or the pane: nearly every sample falls in
// the pane and the last window of the sample before (a batch holds many
// series reporting at about the same time), and then aligning it takes two
// comparisons instead of alignDown's division. Only ranges within
// ±maxTime are kept: there alignDown's arithmetic is exact (t−offset does
// not wrap around), lo is aligned, and alignDown(t, step) = lo for every t
// in [lo, hi]. Other times (processing time with an extreme wall clock)
// take the direct formula, so the results are alignDown's for every int64.
type alignCache struct{ lo, hi, step int64 }

// newAlignCache returns an empty cache (lo > hi) for step.
func newAlignCache(step int64) alignCache { return alignCache{lo: 1, hi: 0, step: step} }

// align returns alignDown(t, c.step), from c when t is in its range;
// otherwise it computes it and keeps its range in c.
func (s *Shard) align(c *alignCache, t int64) int64 {
	if t >= c.lo && t <= c.hi {
		return c.lo
	}
	return s.realign(c, t)
}

//go:noinline
func (s *Shard) realign(c *alignCache, t int64) int64 {
	step := c.step
	lo := s.alignDown(t, step)
	if t >= -maxTime && t <= maxTime && lo >= -maxTime && lo <= maxTime-step+1 {
		c.lo, c.hi = lo, lo+step-1
	}
	return lo
}

// lastWinAt is lastWin(t), from the window cache when t is in its range
// (the cache is left as it is).
func (s *Shard) lastWinAt(t int64) int64 {
	if t >= s.winC.lo && t <= s.winC.hi {
		return s.winC.lo
	}
	return s.lastWin(t)
}

// firstWinFrom is firstWin(t) given wl = lastWin(t). Within ±maxTime,
// where firstWin's arithmetic is exact, t−size is sizeR behind t modulo
// adv, so alignDown(t−size, adv)+adv is wl−sizeQ+adv when t−wl >= sizeR
// and wl−sizeQ otherwise: no division, for times before the epoch too
// (0 <= t−wl < adv holds for every t, wl being floored). Other times take
// firstWin.
func (s *Shard) firstWinFrom(t, wl int64) int64 {
	f := wl - s.sizeQ
	if t-wl >= s.sizeR {
		f += s.adv
	}
	if uint64(t+maxTime) > 2*maxTime {
		return s.firstWin(t)
	}
	return f
}

// findPane returns the pane of key starting at ps, or -1. With create, a
// missing pane is allocated and linked in order (-1 if refused). fromHead
// picks the end to search from: the tail for new data, the head for the
// windows being fired.
func (s *Shard) findPane(key int32, ps int64, create, fromHead bool) int32 {
	k := &s.keys[key]
	var after int32 // the pane to insert after; -1 = at the head
	if fromHead {
		after = -1
		for i := k.head; i >= 0; i = s.slots[i].next {
			st := s.slots[i].start
			if st == ps {
				return i
			}
			if st > ps {
				break
			}
			after = i
		}
	} else {
		after = k.tail
		for after >= 0 && s.slots[after].start > ps {
			after = s.slots[after].prev
		}
		if after >= 0 && s.slots[after].start == ps {
			return after
		}
	}
	if !create {
		return -1
	}
	n := s.allocSlot(key)
	if n < 0 {
		return -1
	}
	s.slots[n].start = ps
	s.slots[n].end = s.lastWinAt(ps) + s.size
	s.insertAfter(key, after, n)
	s.scheduleAligned(key)
	return n
}

func (s *Shard) addAligned(smp *record.Sample, key int32) {
	t := smp.Time
	wl := s.align(&s.winC, t) // lastWin(t)
	if wl+s.size-1+s.lateness <= s.cur {
		s.late(smp)
		return
	}
	ps := wl // alignDown(t, pane): the same formula when pane == adv
	if s.pane != s.adv {
		ps = s.align(&s.paneC, t)
	}
	// In-order data lands in the key's last pane: check it here, before
	// calling findPane.
	i := s.keys[key].tail
	if i < 0 || s.slots[i].start != ps {
		if i = s.findPane(key, ps, true, false); i < 0 {
			return
		}
	}
	sl := &s.slots[i]
	if sl.acc.n != 0 && basicOnly(s.set) {
		sl.acc.addBasic(smp.Value)
	} else {
		sl.acc.add(smp.Value, t, smp.Seq, s.set)
	}
	if s.set&Quantiles != 0 {
		s.skAdd(i, smp.Value)
	}
	// Every window containing t ends after t, so an event ahead of the
	// watermark is late for none of them.
	if t <= s.cur {
		if wf := s.firstWinFrom(t, wl); wf+s.size-1 <= s.cur {
			s.lateAligned(key, wf, wl)
		}
	}
}

// lateAligned handles an accepted event that is behind the watermark for
// some of its windows wf..wl.
//
// A window's revision and late count live in the pane that starts it (for
// tumbling, its only pane); an empty pane is created for them when the
// window has no data there. It lives exactly as long as the window: a
// pane's purge time is that of the last window containing it, and the last
// window containing the pane at ws is ws.
func (s *Shard) lateAligned(key int32, wf, wl int64) {
	k := &s.keys[key]
	counted := false
	for ws := wf; ws <= wl; ws += s.adv {
		end1 := ws + s.size - 1
		if end1 > s.cur {
			break // this window and the later ones have not fired: on time
		}
		if end1+s.lateness > s.cur {
			if !counted {
				s.c[cLateAccepted]++
				counted = true
			}
			if m := s.findPane(key, ws, true, true); m >= 0 {
				s.slots[m].late++
			}
			if s.mode == Update {
				s.emitAligned(key, ws, false)
			}
		}
		// Windows whose firing time has passed are handled here (emitted,
		// counted, or expired): the cursor must not fire them again.
		if end1+s.fireDelay <= s.cur && (k.cursor == NoWatermark || ws > k.cursor) {
			k.cursor = ws
		}
	}
	s.scheduleAligned(key)
}

// emitAligned merges the panes of window ws of key and emits the result;
// an empty window emits nothing. final marks the last emission (the purge
// is due).
func (s *Shard) emitAligned(key int32, ws int64, final bool) {
	if s.pane == s.size {
		// Tumbling: the window is its pane.
		i := s.findPane(key, ws, false, false)
		if i < 0 || s.slots[i].acc.n == 0 {
			return
		}
		sl := &s.slots[i]
		s.emit(key, ws, ws+s.size, &sl.acc, s.skOf(i), sl.fires, sl.late, final)
		sl.fires++
		return
	}
	a := &s.scratch
	a.reset()
	var sk *Sketch
	if s.set&Quantiles != 0 {
		sk = &s.scratchSk
		sk.Reset()
	}
	end := ws + s.size
	meta := int32(-1)
	for i := s.keys[key].head; i >= 0; i = s.slots[i].next {
		sl := &s.slots[i]
		if sl.start < ws {
			continue
		}
		if sl.start >= end {
			break
		}
		if sl.start == ws {
			meta = i
		}
		a.merge(&sl.acc, s.set)
		if sk != nil && !s.skMergeInto(sk, i) {
			sk = nil // a pane without quantiles: the window has none
		}
	}
	if a.n == 0 {
		return
	}
	if meta < 0 && !final {
		meta = s.findPane(key, ws, true, true) // for the revisions to come
	}
	var rev, late uint32
	if meta >= 0 {
		rev, late = s.slots[meta].fires, s.slots[meta].late
		s.slots[meta].fires++
	}
	s.emit(key, ws, end, a, sk, rev, late, final)
}

// nextCandidate is the next window of key the firing loop considers.
func (s *Shard) nextCandidate(k *keyState) int64 {
	h := &s.slots[k.head]
	c := s.firstWinFrom(h.start, h.end-s.size)
	if k.cursor != NoWatermark && k.cursor+s.adv > c {
		c = k.cursor + s.adv
	}
	return c
}

// scheduleAligned sets key's timer: the earlier of the next window's
// firing time (if a window with data is left) and the head pane's purge.
func (s *Shard) scheduleAligned(key int32) {
	k := &s.keys[key]
	if k.head < 0 {
		s.timers.remove(key)
		return
	}
	at := s.slots[k.head].end - 1 + s.lateness
	if c := s.nextCandidate(k); c <= s.slots[k.tail].end-s.size {
		at = min(at, c+s.size-1+s.fireDelay)
	}
	if old, ok := s.timers.scheduledAt(key); !ok || old != at {
		s.timers.set(key, at)
		if s.perSeries {
			s.noteTimer(key, at)
		}
	}
}

func (s *Shard) onAlignedTimer(key int32) {
	k := &s.keys[key]
	for k.head >= 0 {
		c := s.nextCandidate(k)
		if c <= s.slots[k.tail].end-s.size && c+s.size-1+s.fireDelay <= s.cur {
			// Final when the purge is due too: this is the last emission.
			s.emitAligned(key, c, c+s.size-1+s.lateness <= s.cur)
			k.cursor = c
			continue
		}
		if s.slots[k.head].end-1+s.lateness <= s.cur {
			s.freeSlot(k.head)
			continue
		}
		break
	}
	s.scheduleAligned(key)
}

// flushAligned emits every open window with data, final, and drops all
// panes.
func (s *Shard) flushAligned() {
	for key := range s.readyKeys() {
		k := &s.keys[key]
		if k.head < 0 {
			continue
		}
		s.useSeriesWM(int32(key))
		last := s.slots[k.tail].end - s.size
		h := &s.slots[k.head]
		for ws := s.firstWinFrom(h.start, h.end-s.size); ws <= last; ws += s.adv {
			if ws+s.size-1+s.lateness <= s.cur {
				continue // expired
			}
			s.emitAligned(int32(key), ws, true)
		}
		for k.head >= 0 {
			s.freeSlot(k.head)
		}
		k.cursor = NoWatermark
	}
}
