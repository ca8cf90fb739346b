package operators

import (
	"errors"
	"math"
	"unsafe"
)

// SketchBins is the number of buckets of a Sketch, shared by its positive
// and its negative values. At α = 1% one bucket spans a factor
// γ = (1+α)/(1−α) ≈ 1.0202, so 2048 buckets cover a ratio of about 6·10¹⁷
// between the smallest and the largest magnitude in one window when its
// values have one sign (1 ns to 19 years, or 1 µW to 600 GW), in 8 KiB;
// values of both signs share them.
const SketchBins = 2048

// sketchBytes is the memory of one Sketch, for budgeting.
const sketchBytes = int(unsafe.Sizeof(Sketch{}))

// ErrSketchAlpha is returned by Sketch.Merge for sketches of different
// relative accuracy.
var ErrSketchAlpha = errors.New("operators: cannot merge sketches of different alpha")

// Sketch is a fixed-memory, mergeable quantile sketch after DDSketch
// (Masson, Rim, Lee, VLDB 2019): values fall into logarithmic buckets
// i = ⌈log_γ |v|⌉ with γ = (1+α)/(1−α), so every bucket's representative
// value is within relative error α of every value in it. Positive and
// negative values have a store each; zero has a counter.
//
// Both stores live in one [SketchBins]uint32 array: the positive buckets
// from its start up, the negative ones from its end down, each store
// placed with slack to grow both ways and moved when it has none left.
// While the used bucket ranges of both signs fit in SketchBins together,
// every quantile is within α. When they do not, the lowest magnitudes
// collapse, as in DDSketch's collapsing-lowest store: the sketch keeps a
// threshold, the lowest bucket index m from which the buckets of both
// signs fit, and counts every value of lower magnitude in bucket m of its
// sign (or in its sign's highest bucket, if that is below m). Only the
// quantiles that fall in a collapsed bucket lose accuracy.
//
// The threshold depends on the values added, not on their order, so Merge
// is exact: merging gives the same buckets as sketching the union, also
// when the parts' ranges differ and the union collapses.
//
// A Sketch never allocates after NewSketch or Init. It is not safe for
// concurrent use. Bucket counts are uint32: a bucket holds at most 2³²−1
// values. ±Inf count in the bucket of ±math.MaxFloat64.
type Sketch struct {
	alpha, gamma, invLogGamma float64
	count, zero               uint64
	min, max                  float64
	// floor is the collapse threshold m (math.MinInt32: nothing has
	// collapsed). It only rises, until Reset.
	floor    int32
	pos, neg sketchStore
	counts   [SketchBins]uint32
}

// sketchStore is the used bucket range of one sign and its place in
// Sketch.counts: bucket i is at position i−org in the positive store and
// org−i in the negative one. Positions outside the stores' ranges hold 0.
type sketchStore struct {
	org        int32
	minI, maxI int32 // used range; minI > maxI when empty
	n          uint64
}

// NewSketch returns an empty sketch with relative accuracy alpha
// (0 < alpha < 1; 0.01 is the pipeline default).
func NewSketch(alpha float64) *Sketch {
	s := new(Sketch)
	s.Init(alpha)
	return s
}

// Init resets s to an empty sketch with relative accuracy alpha, in place.
func (s *Sketch) Init(alpha float64) {
	s.alpha = alpha
	s.gamma = (1 + alpha) / (1 - alpha)
	s.invLogGamma = 1 / math.Log(s.gamma)
	s.clearCounts()
}

// Reset empties s, keeping its accuracy. It clears only the used buckets.
func (s *Sketch) Reset() { s.clearCounts() }

func (s *Sketch) clearCounts() {
	s.clearStore(&s.pos, false)
	s.clearStore(&s.neg, true)
	s.count, s.zero = 0, 0
	s.min, s.max = math.Inf(1), math.Inf(-1)
	s.floor = math.MinInt32
}

func (s *Sketch) clearStore(st *sketchStore, neg bool) {
	if st.n > 0 {
		a, b := st.positions(neg, st.minI, st.maxI)
		clear(s.counts[a : b+1])
	}
	st.n = 0
	st.minI, st.maxI = math.MaxInt32, math.MinInt32
}

// positions returns the positions in Sketch.counts of buckets lo and hi
// of st (lo <= hi), in increasing order.
func (st *sketchStore) positions(neg bool, lo, hi int32) (int32, int32) {
	if neg {
		return st.org - hi, st.org - lo
	}
	return lo - st.org, hi - st.org
}

// at returns the position in Sketch.counts of bucket i of st.
func (st *sketchStore) at(neg bool, i int32) int32 {
	if neg {
		return st.org - i
	}
	return i - st.org
}

// Alpha returns the relative accuracy of s.
func (s *Sketch) Alpha() float64 { return s.alpha }

// Count returns the number of values added (NaN is ignored).
func (s *Sketch) Count() uint64 { return s.count }

// index is the bucket of v > 0 (v <= math.MaxFloat64).
func (s *Sketch) index(v float64) int32 {
	return int32(math.Ceil(math.Log(v) * s.invLogGamma))
}

func (s *Sketch) value(i int32) float64 {
	return 2 * math.Pow(s.gamma, float64(i)) / (s.gamma + 1)
}

// Add adds v. NaN is ignored.
func (s *Sketch) Add(v float64) {
	switch {
	case v > 0:
		x := v
		if x > math.MaxFloat64 {
			x = math.MaxFloat64 // +Inf
		}
		i := s.index(x)
		// Within the used range (the steady state): one increment.
		if st := &s.pos; i >= st.minI && i <= st.maxI {
			s.counts[i-st.org]++
			st.n++
		} else {
			s.addSlow(false, i, 1)
		}
	case v < 0:
		x := -v
		if x > math.MaxFloat64 {
			x = math.MaxFloat64 // -Inf
		}
		i := s.index(x)
		if st := &s.neg; i >= st.minI && i <= st.maxI {
			s.counts[st.org-i]++
			st.n++
		} else {
			s.addSlow(true, i, 1)
		}
	case v == 0:
		s.zero++
	default:
		return
	}
	s.count++
	if v < s.min {
		s.min = v
	}
	if v > s.max {
		s.max = v
	}
}

func (s *Sketch) store(neg bool) *sketchStore {
	if neg {
		return &s.neg
	}
	return &s.pos
}

// addSlow adds c values of bucket i to the store of its sign when i is
// outside the store's used range: it extends the range (collapsing and
// moving the stores as needed) and counts the values there.
func (s *Sketch) addSlow(neg bool, i int32, c uint32) {
	st := s.store(neg)
	lo, hi := i, i
	if st.n > 0 {
		lo, hi = min(st.minI, i), max(st.maxI, i)
	}
	if neg {
		s.fit(s.pos.minI, s.pos.maxI, lo, hi)
	} else {
		s.fit(lo, hi, s.neg.minI, s.neg.maxI)
	}
	s.counts[st.at(neg, max(i, st.minI))] += c // below the threshold: the collapsed bucket
	st.n += uint64(c)
}

// addBucket adds c values of bucket i of the sign's store, as c calls of
// Add with values of that bucket would, except for count, zero, min and
// max, which the caller keeps (sparseSketch.replay).
func (s *Sketch) addBucket(neg bool, i int32, c uint32) {
	if st := s.store(neg); i >= st.minI && i <= st.maxI {
		s.counts[st.at(neg, i)] += c
		st.n += uint64(c)
		return
	}
	s.addSlow(neg, i, c)
}

// width is the number of buckets the range [lo, hi] needs once the
// buckets below min(m, hi) collapse into it (0 for an empty range).
func width(lo, hi, m int32) int64 {
	if lo > hi {
		return 0
	}
	return int64(hi) - int64(max(lo, min(m, hi))) + 1
}

// fit makes room for the used ranges [pLo, pHi] (positive store) and
// [nLo, nHi] (negative store; lo > hi: empty), each containing the
// store's current range: it raises the collapse threshold until they fit
// in SketchBins together, collapses the buckets below it, moves the stores
// if their new ranges do not fit where they are, and sets the ranges.
//
//go:noinline
func (s *Sketch) fit(pLo, pHi, nLo, nHi int32) {
	m := s.floor
	if width(pLo, pHi, m)+width(nLo, nHi, m) > SketchBins {
		// The smallest threshold that fits: the widths only shrink as it
		// rises, and at the highest bucket each store needs one.
		a, b := int64(m), int64(max(pHi, nHi))
		for b-a > 1 {
			c := int32(a + (b-a)/2)
			if width(pLo, pHi, c)+width(nLo, nHi, c) <= SketchBins {
				b = int64(c)
			} else {
				a = int64(c)
			}
		}
		m = int32(b)
		s.floor = m
	}
	// Collapse in place, then place the stores and put the collapsed
	// counts in their buckets.
	pLevel, nLevel := min(m, pHi), min(m, nHi)
	pCol := s.collapse(&s.pos, false, pLevel)
	nCol := s.collapse(&s.neg, true, nLevel)
	if pLo <= pHi {
		pLo = max(pLo, pLevel)
	}
	if nLo <= nHi {
		nLo = max(nLo, nLevel)
	}
	if !s.fits(pLo, pHi, nLo, nHi) {
		s.relayout(pLo, pHi, nLo, nHi)
	}
	s.pos.minI, s.pos.maxI = pLo, pHi
	s.neg.minI, s.neg.maxI = nLo, nHi
	if pCol > 0 {
		s.counts[s.pos.at(false, pLevel)] += pCol
	}
	if nCol > 0 {
		s.counts[s.neg.at(true, nLevel)] += nCol
	}
}

// collapse removes from st the counts of the buckets below level and
// returns their sum; st's range keeps its buckets from level up (it is
// empty when level is above it).
func (s *Sketch) collapse(st *sketchStore, neg bool, level int32) uint32 {
	if st.minI > st.maxI || level <= st.minI {
		return 0
	}
	a, b := st.positions(neg, st.minI, min(level-1, st.maxI))
	var col uint32
	for _, c := range s.counts[a : b+1] {
		col += c
	}
	clear(s.counts[a : b+1])
	if level > st.maxI {
		st.minI, st.maxI = math.MaxInt32, math.MinInt32
	} else {
		st.minI = level
	}
	return col
}

// fits reports whether the ranges fit at the stores' current places.
func (s *Sketch) fits(pLo, pHi, nLo, nHi int32) bool {
	end := int32(SketchBins) // first position of the negative store
	if nLo <= nHi {
		a, b := s.neg.positions(true, nLo, nHi)
		if a < 0 || b >= SketchBins {
			return false
		}
		end = a
	}
	if pLo <= pHi {
		a, b := s.pos.positions(false, pLo, pHi)
		return a >= 0 && b < end
	}
	return true
}

// relayout places the stores for the ranges (which fit in SketchBins
// together) with the free buckets as slack: a quarter below each store's
// range and the rest between them, where both grow (half and half for a
// store alone), and moves their data there.
func (s *Sketch) relayout(pLo, pHi, nLo, nHi int32) {
	free := int32(SketchBins - width(pLo, pHi, pLo) - width(nLo, nHi, nLo))
	pSlack, nSlack := free/2, free/2
	if pLo <= pHi && nLo <= nHi {
		pSlack, nSlack = free/4, free/4
	}
	pOrg, nOrg := s.pos.org, s.neg.org
	if pLo <= pHi {
		pOrg = pLo - pSlack
	}
	if nLo <= nHi {
		nOrg = nLo + SketchBins - 1 - nSlack
	}
	// Old and new places are each disjoint, the positive store first: one
	// of the two orders never writes over data not yet moved.
	pFirst := true
	if s.pos.minI <= s.pos.maxI && s.neg.minI <= s.neg.maxI {
		pFirst = s.pos.maxI-pOrg < s.neg.org-s.neg.maxI
	}
	if pFirst {
		s.move(&s.pos, false, pOrg)
		s.move(&s.neg, true, nOrg)
	} else {
		s.move(&s.neg, true, nOrg)
		s.move(&s.pos, false, pOrg)
	}
}

// move moves st's data to origin org and clears the positions it leaves.
func (s *Sketch) move(st *sketchStore, neg bool, org int32) {
	if st.minI <= st.maxI && org != st.org {
		a, b := st.positions(neg, st.minI, st.maxI)
		d := org - st.org
		if !neg {
			d = -d
		}
		copy(s.counts[a+d:b+d+1], s.counts[a:b+1])
		if d > 0 {
			clear(s.counts[a:min(b+1, a+d)])
		} else {
			clear(s.counts[max(a, b+d+1) : b+1])
		}
	}
	st.org = org
}

// Quantile returns the estimate of quantile q (0..1) of the values added:
// the value of rank ⌊q·(n−1)⌋ in sorted order within relative error alpha
// (exact min for q <= 0 and max for q >= 1), unless it falls in a collapsed
// bucket. It returns NaN when s is empty.
func (s *Sketch) Quantile(q float64) float64 {
	if s.count == 0 {
		return math.NaN()
	}
	if q <= 0 {
		return s.min
	}
	if q >= 1 {
		return s.max
	}
	rank := uint64(q * float64(s.count-1))
	if rank >= s.count/2 {
		// Nearer the top: count down from the largest value, rank
		// count−1−rank from there.
		return s.fromTop(s.count - 1 - rank)
	}
	// In increasing order: the negative store's positions (largest
	// magnitude first), zero, the positive store's positions.
	var cum uint64
	if j, ok := scanUp(s.used(&s.neg, true), &cum, rank); ok {
		return s.clamp(-s.value(s.neg.maxI - j))
	}
	if cum += s.zero; cum > rank {
		return 0
	}
	if j, ok := scanUp(s.used(&s.pos, false), &cum, rank); ok {
		return s.clamp(s.value(s.pos.minI + j))
	}
	return s.max
}

// fromTop returns the value of rank r counted from the largest (0).
func (s *Sketch) fromTop(r uint64) float64 {
	var cum uint64
	if j, ok := scanDown(s.used(&s.pos, false), &cum, r); ok {
		return s.clamp(s.value(s.pos.minI + j))
	}
	if cum += s.zero; cum > r {
		return 0
	}
	if j, ok := scanDown(s.used(&s.neg, true), &cum, r); ok {
		return s.clamp(-s.value(s.neg.maxI - j))
	}
	return s.min
}

// used returns the counts of st's range, in increasing position.
func (s *Sketch) used(st *sketchStore, neg bool) []uint32 {
	if st.n == 0 {
		return nil
	}
	a, b := st.positions(neg, st.minI, st.maxI)
	return s.counts[a : b+1]
}

// scanUp adds the counts of cs to *cum from the first one and returns the
// index at which *cum exceeds r.
func scanUp(cs []uint32, cum *uint64, r uint64) (int32, bool) {
	c := *cum
	for j, n := range cs {
		if c += uint64(n); c > r {
			return int32(j), true
		}
	}
	*cum = c
	return 0, false
}

// scanDown is scanUp from the last count.
func scanDown(cs []uint32, cum *uint64, r uint64) (int32, bool) {
	c := *cum
	for j := len(cs) - 1; j >= 0; j-- {
		if c += uint64(cs[j]); c > r {
			return int32(j), true
		}
	}
	*cum = c
	return 0, false
}

func (s *Sketch) clamp(v float64) float64 {
	return math.Max(s.min, math.Min(s.max, v))
}

// Merge adds the values of o to s. Both must have the same alpha.
func (s *Sketch) Merge(o *Sketch) error {
	if o.alpha != s.alpha {
		return ErrSketchAlpha
	}
	if o.count == 0 {
		return nil
	}
	// Both collapsed below their thresholds: the union below the higher.
	s.floor = max(s.floor, o.floor)
	s.fit(min(s.pos.minI, o.pos.minI), max(s.pos.maxI, o.pos.maxI),
		min(s.neg.minI, o.neg.minI), max(s.neg.maxI, o.neg.maxI))
	s.mergeStore(&s.pos, &o.pos, false, o)
	s.mergeStore(&s.neg, &o.neg, true, o)
	s.zero += o.zero
	s.count += o.count
	s.min = math.Min(s.min, o.min)
	s.max = math.Max(s.max, o.max)
	return nil
}

// mergeStore adds the buckets of ot (a store of o) to st, whose range
// covers them once collapsed.
func (s *Sketch) mergeStore(st, ot *sketchStore, neg bool, o *Sketch) {
	if ot.n == 0 {
		return
	}
	// o's buckets below st.minI (o collapsed less far) go to the collapsed
	// bucket, the others to the same index: one run of positions in each
	// array, in the same order.
	cs := o.used(ot, neg)
	k := min(max(st.minI-ot.minI, 0), int32(len(cs)))
	var low []uint32
	first := ot.maxI // the bucket of cs[0] once low is cut off
	if neg {
		cs, low = cs[:int32(len(cs))-k], cs[int32(len(cs))-k:]
	} else {
		low, cs = cs[:k], cs[k:]
		first = ot.minI + k
	}
	var col uint32
	for _, c := range low {
		col += c
	}
	if col > 0 {
		s.counts[st.at(neg, st.minI)] += col
	}
	if len(cs) > 0 {
		p := st.at(neg, first)
		dst := s.counts[p : p+int32(len(cs))]
		for j, c := range cs {
			dst[j] += c
		}
	}
	st.n += ot.n
}
