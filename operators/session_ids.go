package operators

import "github.com/edgeplane/edgeplane/record"

// Session ids and revisions (WINDOWS.md section D).
//
// A session's id is derived from its start, so the contract "same id and
// revision ⇒ same content; a later emission for an id ⇒ a higher
// revision" needs two things the window rules alone do not give:
//
//   - Retraction. When a merge or a late event moves the start of a
//     session that was already emitted, or merges an emitted session into
//     another, the old id is retracted: a record.AggRetracted aggregate with
//     the old start and the old id's next revision, emitted in the same
//     firing as the session under its new id (queued in Shard.rets until
//     then). A session whose start moves gets a fresh id and, for it,
//     revision 0; one whose start stays keeps counting.
//
//   - Memory of purged ids, in bounded state. Per key the shard keeps the
//     span of its latest purged session ([start, end), the next revision
//     of that start, and whether any other used id — a retracted one, or
//     the start of a session purged inside the span — lies within it).
//     Two rules keep every other used id out of reach: a reading before
//     the span's start is late (rule R1: it could only rebuild sessions at
//     starts already used, further back), and when the span holds other
//     used ids, so is a reading strictly inside it (R2). A session then
//     starts either at a fresh time or exactly at the span's start, where
//     it continues that id's revisions: the rebuilt session supersedes the
//     purged one with a higher revision.
//
// Both rules refuse only readings that would otherwise join a session
// rebuilt over a purged one's time; everything else follows WINDOWS.md
// rule 4. Sessions purged before the span (further back) are forgotten:
// R1 keeps the readings that could reach them late.

// purgedSpan is the memory of one key's latest purged session (and of
// sessions purged inside its span after it).
type purgedSpan struct {
	start, end int64
	next       uint32 // the next revision of the id of start
	set        bool
	other      bool // another used id lies in (start, end)
}

// retraction is an id waiting to be retracted at the next firing of the
// session (slot) that absorbed it.
type retraction struct {
	slot, key  int32
	start, end int64
	rev        uint32
}

// maxPendingRetractions bounds Shard.rets; beyond it a retraction is
// emitted at once instead of with its session's next firing.
const maxPendingRetractions = 1024

// purgedRefuses reports whether a reading at t for key falls where rules
// R1 and R2 make it late.
func (s *Shard) purgedRefuses(key int32, t int64) bool {
	pm := &s.purged[key]
	return pm.set && (t < pm.start || (pm.other && t > pm.start && t < pm.end))
}

// revisionFor is the first revision of a session that starts at start:
// 0 for a fresh id, the next revision of the key's purged span start.
func (s *Shard) revisionFor(key int32, start int64) uint32 {
	if pm := &s.purged[key]; pm.set && pm.start == start {
		return pm.next
	}
	return 0
}

// rememberPurge records session slot i, emitted and about to be freed,
// in its key's purged span.
func (s *Shard) rememberPurge(i int32) {
	w := &s.slots[i]
	pm := &s.purged[w.key]
	switch {
	case !pm.set || w.start > pm.end:
		*pm = purgedSpan{start: w.start, end: w.end, next: w.fires, set: true, other: w.retIn}
	case w.start == pm.start:
		pm.next = w.fires
		pm.end = max(pm.end, w.end)
		pm.other = pm.other || w.retIn
	case w.start > pm.start:
		pm.end = max(pm.end, w.end)
		pm.other = true
	}
	// A session before the span (purged in the same watermark step as a
	// later one, timers being ordered by time, not start) ends before the
	// span starts: R1 already keeps every id of it out of reach, so the
	// span is left as it is and the memory does not depend on the order
	// of purges within a step.
}

// retractInto queues the retraction of emitted session w's id, to leave
// with the next firing of session slot target.
func (s *Shard) retractInto(target int32, w *slot) {
	r := retraction{slot: target, key: w.key, start: w.start, end: w.end, rev: w.fires}
	if len(s.rets) == cap(s.rets) {
		s.emitRetraction(&r)
		return
	}
	s.rets = append(s.rets, r)
}

// moveRetractions re-points the retractions waiting on slot from to slot
// to (from was merged into to).
func (s *Shard) moveRetractions(from, to int32) {
	for i := range s.rets {
		if s.rets[i].slot == from {
			s.rets[i].slot = to
		}
	}
}

// flushRetractions emits the retractions waiting on slot i.
func (s *Shard) flushRetractions(i int32) {
	if len(s.rets) == 0 {
		return
	}
	k := 0
	for j := range s.rets {
		if s.rets[j].slot == i {
			s.emitRetraction(&s.rets[j])
			continue
		}
		s.rets[k] = s.rets[j]
		k++
	}
	s.rets = s.rets[:k]
}

func (s *Shard) emitRetraction(r *retraction) {
	g := &s.agg
	series, field := s.pairOf(r.key)
	*g = record.Aggregate{
		Series:   series,
		Field:    field,
		Kind:     s.kind,
		Flags:    record.AggRetracted,
		Revision: r.rev,
		Start:    r.start,
		End:      r.end,
	}
	s.c[cRetracted]++
	s.out.Emit(g)
}
