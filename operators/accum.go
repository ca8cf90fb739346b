package operators

import "github.com/edgeplane/edgeplane/record"

// acc is the mergeable accumulator of one window, pane or session of one
// (series, field). Count, sum, min and max are always maintained (they cost
// four instructions); first/last (also needed by rate) and Welford only when
// the pipeline selects them.
//
// Every part merges exactly (WINDOWS.md, "Aggregates and merging"), so a
// hopping window is the merge of its panes and a merged session the merge
// of its parts.
type acc struct {
	n             uint64
	sum, min, max float64

	// First and last readings by (time, seq).
	firstT, lastT     int64
	firstSeq, lastSeq uint64
	first, last       float64
	// inc is the reset-aware increase of a monotonic counter from first to
	// last: the sum over consecutive readings of (cur − prev), or cur when
	// cur < prev (the counter restarted from 0).
	inc float64

	// Shifted Welford: k is the first value added, mean and m2 are the
	// running mean and sum of squared deviations of (x − k). Shifting by a
	// sample keeps the arithmetic in the scale of the spread, not of the
	// offset, so inputs like 1e9 + tiny noise keep full precision.
	k, mean, m2 float64
}

// before orders readings by time, then by arrival sequence.
func before(t1 int64, s1 uint64, t2 int64, s2 uint64) bool {
	return t1 < t2 || (t1 == t2 && s1 < s2)
}

// counterDelta is the increase of a monotonic counter going from prev to
// cur: a drop means the counter reset to zero and then counted up to cur.
func counterDelta(prev, cur float64) float64 {
	if cur >= prev {
		return cur - prev
	}
	return cur
}

func (a *acc) reset() { *a = acc{} }

// add adds one reading. A reading inside (first, last) by time cannot be
// placed between its neighbours without keeping them, so it does not
// change inc: for a monotonic counter that is exact unless a reset
// happened between those neighbours.
func (a *acc) add(v float64, t int64, seq uint64, set AggSet) {
	if a.n == 0 {
		*a = acc{n: 1, sum: v, min: v, max: v, firstT: t, lastT: t, firstSeq: seq, lastSeq: seq, first: v, last: v, k: v}
		return
	}
	a.addBasic(v)
	if set.needFirstLast() {
		if before(t, seq, a.firstT, a.firstSeq) {
			a.inc += counterDelta(v, a.first)
			a.firstT, a.firstSeq, a.first = t, seq, v
		} else if !before(t, seq, a.lastT, a.lastSeq) {
			a.inc += counterDelta(a.last, v)
			a.lastT, a.lastSeq, a.last = t, seq, v
		}
	}
	if set.needWelford() {
		d := v - a.k
		delta := d - a.mean
		a.mean += delta / float64(a.n)
		a.m2 += delta * (d - a.mean)
	}
}

// basicOnly reports whether add is addBasic for an accumulator that has
// data: set needs none of the by-time or Welford state.
func basicOnly(set AggSet) bool { return set&(First|Last|Rate|Variance|Stddev) == 0 }

// addBasic is the part of add every set needs (count, sum, min, max), for
// an accumulator that has data; small enough to be inlined into the
// per-sample paths.
func (a *acc) addBasic(v float64) {
	a.n++
	a.sum += v
	if v < a.min {
		a.min = v
	}
	if v > a.max {
		a.max = v
	}
}

// merge folds b into a. When b lies entirely before or after a in time the
// counter increase joins exactly (adding the step between the two); when
// they overlap (not produced by panes or sessions) the increases are added.
func (a *acc) merge(b *acc, set AggSet) {
	if b.n == 0 {
		return
	}
	if a.n == 0 {
		*a = *b
		return
	}
	a.sum += b.sum
	if b.min < a.min {
		a.min = b.min
	}
	if b.max > a.max {
		a.max = b.max
	}
	if set.needFirstLast() {
		switch {
		case !before(b.firstT, b.firstSeq, a.lastT, a.lastSeq): // b after a
			a.inc += b.inc + counterDelta(a.last, b.first)
		case !before(a.firstT, a.firstSeq, b.lastT, b.lastSeq): // b before a
			a.inc += b.inc + counterDelta(b.last, a.first)
		default:
			a.inc += b.inc
		}
		if before(b.firstT, b.firstSeq, a.firstT, a.firstSeq) {
			a.firstT, a.firstSeq, a.first = b.firstT, b.firstSeq, b.first
		}
		if before(a.lastT, a.lastSeq, b.lastT, b.lastSeq) {
			a.lastT, a.lastSeq, a.last = b.lastT, b.lastSeq, b.last
		}
	}
	if set.needWelford() {
		// Chan et al., with b's mean moved to a's shift.
		na, nb := float64(a.n), float64(b.n)
		n := na + nb
		mb := b.mean + (b.k - a.k)
		d := mb - a.mean
		a.mean += d * nb / n
		a.m2 += b.m2 + d*d*na*nb/n
	}
	a.n += b.n
}

// fill writes the selected aggregates of a into out (whose identity fields
// the caller sets). Unselected aggregates are left zero, except Count and
// the Welford state, which the record's derived methods need.
func (a *acc) fill(out *record.Aggregate, set AggSet) {
	out.Count = a.n
	if set.needSum() {
		out.Sum = a.sum
	}
	if set.needMinMax() {
		out.Min, out.Max = a.min, a.max
	}
	if set&(First|Rate) != 0 {
		out.FirstTime, out.First = a.firstT, a.first
	}
	if set&(Last|Rate) != 0 {
		out.LastTime, out.Last = a.lastT, a.last
	}
	if set.needWelford() {
		out.WMean = a.k + a.mean
		out.M2 = a.m2
		if out.M2 < 0 {
			out.M2 = 0
		}
	}
	if set&Rate != 0 {
		out.Increase = a.inc
		if span := a.lastT - a.firstT; span > 0 {
			out.Rate = a.inc * 1000 / float64(span)
		}
	}
}
