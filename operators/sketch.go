package operators

import (
	"errors"
	"math"
	"unsafe"
)

// SketchBins is the number of buckets per sign of a Sketch. At α = 1% one
// bucket spans a factor γ = (1+α)/(1−α) ≈ 1.0202, so 1024 buckets cover a
// ratio of about 8·10⁸ between the smallest and largest magnitude of one
// sign in one window (1 ms to 9 days, or 1 µg/m³ to 800 kg/m³).
const SketchBins = 1024

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
// Each store is a [SketchBins]uint32 array plus an offset that slides to
// follow the data; when one window's values span more than SketchBins
// buckets of one sign, the lowest-magnitude buckets collapse into one
// (accuracy is kept for the high quantiles, as in DDSketch's
// CollapsingLowestDenseStore). Within that span, Merge is exact: merging
// two sketches gives the same buckets as sketching the union.
//
// A Sketch never allocates after NewSketch or Init. It is not safe for
// concurrent use. Bucket counts are uint32: a bucket holds at most 2³²−1
// values.
type Sketch struct {
	alpha, gamma, invLogGamma float64
	count, zero               uint64
	min, max                  float64
	pos, neg                  sketchStore
}

type sketchStore struct {
	lo         int32 // bucket index of counts[0]
	minI, maxI int32 // used index range, valid when n > 0
	n          uint64
	counts     [SketchBins]uint32
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
	s.pos.reset()
	s.neg.reset()
	s.count, s.zero = 0, 0
	s.min, s.max = math.Inf(1), math.Inf(-1)
}

func (st *sketchStore) reset() {
	if st.n > 0 {
		clear(st.counts[st.minI-st.lo : st.maxI-st.lo+1])
	}
	st.n = 0
}

// Alpha returns the relative accuracy of s.
func (s *Sketch) Alpha() float64 { return s.alpha }

// Count returns the number of values added (NaN is ignored).
func (s *Sketch) Count() uint64 { return s.count }

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
		s.pos.add(s.index(v), 1)
	case v < 0:
		s.neg.add(s.index(-v), 1)
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

// Merge adds the values of o to s. Both must have the same alpha.
func (s *Sketch) Merge(o *Sketch) error {
	if o.alpha != s.alpha {
		return ErrSketchAlpha
	}
	if o.count == 0 {
		return nil
	}
	s.pos.merge(&o.pos)
	s.neg.merge(&o.neg)
	s.zero += o.zero
	s.count += o.count
	s.min = math.Min(s.min, o.min)
	s.max = math.Max(s.max, o.max)
	return nil
}

// Quantile returns the estimate of quantile q (0..1) of the values added:
// the value of rank ⌊q·(n−1)⌋ in sorted order within relative error alpha
// (exact min for q <= 0 and max for q >= 1). It returns NaN when s is
// empty.
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
	var cum uint64
	if s.neg.n > 0 {
		for i := s.neg.maxI; i >= s.neg.minI; i-- {
			cum += uint64(s.neg.counts[i-s.neg.lo])
			if cum > rank {
				return s.clamp(-s.value(i))
			}
		}
	}
	cum += s.zero
	if cum > rank {
		return 0
	}
	if s.pos.n > 0 {
		for i := s.pos.minI; i <= s.pos.maxI; i++ {
			cum += uint64(s.pos.counts[i-s.pos.lo])
			if cum > rank {
				return s.clamp(s.value(i))
			}
		}
	}
	return s.max
}

func (s *Sketch) clamp(v float64) float64 {
	return math.Max(s.min, math.Min(s.max, v))
}

func (st *sketchStore) merge(o *sketchStore) {
	if o.n == 0 {
		return
	}
	// Highest first: if the union spans more than SketchBins, the store
	// settles on the top range at once and collapses the rest into its
	// lowest bucket, as adding the values one by one would.
	for i := o.maxI; i >= o.minI; i-- {
		if c := o.counts[i-o.lo]; c != 0 {
			st.add(i, c)
		}
	}
}

func (st *sketchStore) add(i int32, c uint32) {
	switch {
	case st.n == 0:
		st.lo = i - SketchBins/2
		st.minI, st.maxI = i, i
	case i < st.lo:
		if int64(st.maxI)-int64(i) < SketchBins {
			slack := SketchBins - 1 - (st.maxI - i)
			st.shift(i - slack/2)
		} else {
			i = st.lo // out of range below: collapse into the lowest bucket
		}
	case int64(i) >= int64(st.lo)+SketchBins:
		if int64(i)-int64(st.minI) < SketchBins {
			slack := SketchBins - 1 - (i - st.minI)
			st.shift(st.minI - slack/2)
		} else {
			st.shift(i - SketchBins + 1)
		}
	}
	st.counts[i-st.lo] += c
	st.n += uint64(c)
	st.minI = min(st.minI, i)
	st.maxI = max(st.maxI, i)
}

// shift moves the store's range to start at newLo. Moving up collapses the
// buckets below newLo into bucket newLo.
func (st *sketchStore) shift(newLo int32) {
	d := int64(newLo) - int64(st.lo)
	switch {
	case d > 0:
		var col uint32
		for j := st.minI; j < newLo && j <= st.maxI; j++ {
			col += st.counts[j-st.lo]
		}
		if d >= SketchBins {
			clear(st.counts[:])
		} else {
			copy(st.counts[:], st.counts[d:])
			clear(st.counts[SketchBins-d:])
		}
		st.lo = newLo
		if st.minI < newLo {
			st.counts[0] += col
			st.minI = newLo
			st.maxI = max(st.maxI, newLo)
		}
	case d < 0:
		e := -d
		copy(st.counts[e:], st.counts[:SketchBins-e])
		clear(st.counts[:e])
		st.lo = newLo
	}
}
