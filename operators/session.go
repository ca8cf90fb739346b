package operators

import "github.com/edgeplane/edgeplane/record"

// Session windows (WINDOWS.md rule 4).
//
// Each event opens [t, t+gap); sessions of a key that overlap or touch it
// (a.start <= b.end && a.end >= b.start) merge, accumulators included, in
// time order so first/last and the counter increase join exactly. A key's
// sessions are a list of slots sorted by start; they never overlap or touch
// each other, so the ones an event merges with are contiguous.
//
// As in Flink's MergingWindowSet, the merge happens first and lateness is
// judged on the merged window: an event is late only if the window it would
// end up in has end-1+L <= WM, which can only happen when it merges with
// nothing (live sessions are not purged). A merged session carries the sum
// of its parts' late counts and the highest revision; it re-fires at once
// (update mode) if its end is already behind the watermark. Its Start may
// differ from earlier emissions of its parts: downstream sees a new window
// that supersedes them, as with Flink.
//
// Each session has its own timer: end-1 while it has unemitted data
// (update mode), then end-1+L for the purge (final mode: only the purge).

func (s *Shard) addSession(smp *record.Sample, key int32) {
	t := smp.Time
	if s.purgedRefuses(key, t) {
		s.late(smp) // rules R1, R2 (session_ids.go)
		return
	}
	ns, ne := t, t+s.gap
	k := &s.keys[key]
	// Walk from the tail: skip sessions after the new window, collect the
	// touching run, stop at the first one before it.
	first, last := int32(-1), int32(-1)
	p := k.tail
	for p >= 0 {
		w := &s.slots[p]
		if w.start > ne {
			p = w.prev
			continue
		}
		if w.end < ns {
			break
		}
		if last < 0 {
			last = p
		}
		first = p
		p = w.prev
	}
	var target int32
	if first < 0 {
		if ne-1+s.lateness <= s.cur {
			s.late(smp)
			return
		}
		target = s.allocSlot(key)
		if target < 0 {
			return
		}
		w := &s.slots[target]
		w.start, w.end = ns, ne
		w.fires = s.revisionFor(key, ns)
		s.insertAfter(key, p, target)
		w.acc.add(smp.Value, t, smp.Seq, s.set)
		if s.set&Quantiles != 0 {
			s.skAdd(target, smp.Value)
		}
	} else {
		target = first
		if ns < s.slots[first].start || first != last {
			s.retractMoved(first, last, min(ns, s.slots[first].start))
		}
		if first == last {
			w := &s.slots[target]
			w.acc.add(smp.Value, t, smp.Seq, s.set)
			if s.set&Quantiles != 0 {
				s.skAdd(target, smp.Value)
			}
		} else {
			s.mergeRun(first, last, smp)
		}
		w := &s.slots[target]
		if ns < w.start {
			// A new start is a new id: its revisions start afresh.
			w.start = ns
			w.fires = s.revisionFor(key, ns)
		}
		w.end = max(w.end, ne)
	}
	w := &s.slots[target]
	w.dirty = true
	if w.end-1 <= s.cur {
		w.late++
		s.c[cLateAccepted]++
		if s.mode == Update {
			s.emitSession(target, false)
		}
	}
	s.scheduleSession(target)
}

// retractMoved queues, on first, the retraction of every emitted session
// of the run first..last whose id the merge ends (its start is not
// newStart).
func (s *Shard) retractMoved(first, last int32, newStart int64) {
	for i := first; ; i = s.slots[i].next {
		w := &s.slots[i]
		if w.fires > 0 && w.start != newStart {
			s.retractInto(first, w)
			s.slots[first].retIn = true
		}
		if i == last {
			return
		}
	}
}

// mergeRun merges the sessions first..last (list order) and the event smp
// into first, joining accumulators in time order, and frees the others.
// first keeps its revisions (its id is the merged session's unless the
// event moves the start, which the caller handles).
func (s *Shard) mergeRun(first, last int32, smp *record.Sample) {
	a := &s.scratch
	a.reset()
	done := false
	tw := &s.slots[first]
	for i := first; ; {
		w := &s.slots[i]
		if !done && before(smp.Time, smp.Seq, w.acc.firstT, w.acc.firstSeq) {
			a.add(smp.Value, smp.Time, smp.Seq, s.set)
			done = true
		}
		a.merge(&w.acc, s.set)
		if i != first {
			tw.late += w.late
			tw.retIn = tw.retIn || w.retIn
			tw.end = max(tw.end, w.end)
			if s.set&Quantiles != 0 {
				s.skMergeSlots(first, i)
			}
		}
		if i == last {
			break
		}
		i = w.next
	}
	if !done {
		a.add(smp.Value, smp.Time, smp.Seq, s.set)
	}
	if s.set&Quantiles != 0 {
		s.skAdd(first, smp.Value)
	}
	tw.acc = *a
	for i := tw.next; ; {
		next := s.slots[i].next
		s.timers.remove(i)
		s.moveRetractions(i, first)
		s.freeSlot(i)
		s.c[cPurged]-- // merged away, not purged
		if i == last {
			break
		}
		i = next
	}
}

func (s *Shard) emitSession(i int32, final bool) {
	s.flushRetractions(i) // in the same firing, before the new id
	w := &s.slots[i]
	s.emit(w.key, w.start, w.end, &w.acc, s.skOf(i), w.fires, w.late, final)
	w.fires++
	w.dirty = false
}

func (s *Shard) scheduleSession(i int32) {
	w := &s.slots[i]
	at := w.end - 1 + s.lateness
	if s.mode == Update && w.dirty {
		at = w.end - 1
	}
	s.timers.set(i, at)
	if s.perSeries {
		s.noteTimer(w.key, at)
	}
}

func (s *Shard) onSessionTimer(i int32) {
	w := &s.slots[i]
	purge := w.end-1+s.lateness <= s.cur
	switch {
	case s.mode == Update && w.dirty && w.end-1 <= s.cur:
		s.emitSession(i, purge)
	case s.mode == Final && purge:
		s.emitSession(i, true)
	}
	if purge {
		s.timers.remove(i)
		s.rememberPurge(i)
		s.freeSlot(i)
		return
	}
	s.scheduleSession(i)
}

// flushSessions emits every open session, final, and drops them.
func (s *Shard) flushSessions() {
	for key := range s.readyKeys() {
		k := &s.keys[key]
		for k.head >= 0 {
			i := k.head
			s.emitSession(i, true)
			s.timers.remove(i)
			s.rememberPurge(i)
			s.freeSlot(i)
		}
	}
}
