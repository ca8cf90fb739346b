package operators

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

var testQuantiles = []float64{0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1}

// exactQuantile is the value of rank ⌊q·(n−1)⌋, the rank Sketch.Quantile
// estimates.
func exactQuantile(sorted []float64, q float64) float64 {
	return sorted[int(q*float64(len(sorted)-1))]
}

func TestSketchAccuracy(t *testing.T) {
	f := func(name string, alpha float64, n int, gen func(r *rand.Rand) float64) {
		t.Helper()
		r := rand.New(rand.NewPCG(3, uint64(n)))
		s := NewSketch(alpha)
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = gen(r)
			s.Add(xs[i])
		}
		slices.Sort(xs)
		for _, q := range testQuantiles {
			got, want := s.Quantile(q), exactQuantile(xs, q)
			if e := relErr(got, want); e > alpha*(1+1e-9) {
				t.Errorf("%s α=%v: q%v = %v, exact %v, rel err %.4g > α", name, alpha, q, got, want, e)
			}
		}
		if s.Count() != uint64(n) {
			t.Errorf("%s: count %d", name, s.Count())
		}
	}
	for _, alpha := range []float64{0.01, 0.02, 0.05} {
		f("uniform", alpha, 20000, func(r *rand.Rand) float64 { return 1 + r.Float64()*999 })
		f("exponential", alpha, 20000, func(r *rand.Rand) float64 { return r.ExpFloat64() * 50 })
		f("pareto (heavy tail)", alpha, 20000, func(r *rand.Rand) float64 { return math.Pow(1-r.Float64(), -1/1.2) })
		f("lognormal", alpha, 20000, func(r *rand.Rand) float64 { return math.Exp(r.NormFloat64() * 3) })
		f("temperatures ±", alpha, 20000, func(r *rand.Rand) float64 { return r.NormFloat64()*15 + 2 })
		f("with zeros", alpha, 5000, func(r *rand.Rand) float64 {
			if r.IntN(4) == 0 {
				return 0
			}
			return r.Float64() * 10
		})
	}
}

// merge(a, b) gives the same buckets, hence the same quantiles, as
// sketching a ∪ b, in any split and merge order.
func TestSketchMergeEqualsUnion(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	f := func(gen func() float64) {
		t.Helper()
		union := NewSketch(0.01)
		parts := []*Sketch{NewSketch(0.01), NewSketch(0.01), NewSketch(0.01)}
		for range 30000 {
			v := gen()
			union.Add(v)
			parts[r.IntN(3)].Add(v)
		}
		m := NewSketch(0.01)
		for _, i := range []int{2, 0, 1} {
			if err := m.Merge(parts[i]); err != nil {
				t.Fatal(err)
			}
		}
		if !sameBuckets(m, union) {
			t.Fatalf("merged buckets differ from the union's")
		}
		for _, q := range testQuantiles {
			if a, b := m.Quantile(q), union.Quantile(q); a != b {
				t.Fatalf("q%v: merged %v, union %v", q, a, b)
			}
		}
	}
	f(func() float64 { return r.ExpFloat64() * 100 })
	f(func() float64 { return r.NormFloat64() * 100 })
	f(func() float64 { return math.Exp(r.NormFloat64() * 4) })
	if err := NewSketch(0.01).Merge(NewSketch(0.02)); err != ErrSketchAlpha {
		t.Fatalf("merge of different alpha: %v", err)
	}
}

func sameBuckets(a, b *Sketch) bool {
	if a.count != b.count || a.zero != b.zero || a.min != b.min || a.max != b.max {
		return false
	}
	for _, neg := range []bool{false, true} {
		x, y := a.store(neg), b.store(neg)
		if x.n != y.n {
			return false
		}
		if x.n == 0 {
			continue
		}
		if x.minI != y.minI || x.maxI != y.maxI {
			return false
		}
		for i := x.minI; i <= x.maxI; i++ {
			if a.counts[x.at(neg, i)] != b.counts[y.at(neg, i)] {
				return false
			}
		}
	}
	return true
}

// Values spanning more than SketchBins buckets collapse the lowest ones:
// memory stays fixed, the high quantiles stay accurate.
func TestSketchCollapseKeepsHighQuantiles(t *testing.T) {
	s := NewSketch(0.01)
	var xs []float64
	for e := -30.0; e <= 30; e += 0.01 {
		v := math.Pow(10, e)
		xs = append(xs, v)
		s.Add(v)
	}
	slices.Sort(xs)
	for _, q := range []float64{0.9, 0.95, 0.99, 1} {
		if e := relErr(s.Quantile(q), exactQuantile(xs, q)); e > 0.01 {
			t.Errorf("q%v rel err %v", q, e)
		}
	}
	if s.pos.maxI-s.pos.minI >= SketchBins {
		t.Fatalf("store spans %d buckets", s.pos.maxI-s.pos.minI+1)
	}
	// Out of order too: small values after large ones collapse, not grow.
	s.Add(1e-40)
	if s.Count() != uint64(len(xs)+1) || s.Quantile(0) != 1e-40 {
		t.Fatalf("count %d q0 %v", s.Count(), s.Quantile(0))
	}
}

func TestSketchResetAndEdges(t *testing.T) {
	s := NewSketch(0.01)
	if !math.IsNaN(s.Quantile(0.5)) {
		t.Fatal("empty sketch should give NaN")
	}
	s.Add(math.NaN())
	if s.Count() != 0 {
		t.Fatal("NaN counted")
	}
	for i := 1; i <= 100; i++ {
		s.Add(float64(i))
	}
	s.Reset()
	s.Add(-3)
	if s.Count() != 1 || s.Quantile(0.5) != -3 {
		t.Fatalf("after reset: count %d q50 %v", s.Count(), s.Quantile(0.5))
	}
	var total uint32
	for _, c := range s.counts {
		total += c
	}
	if total != 1 || s.counts[s.neg.at(true, s.index(3))] != 1 {
		t.Fatal("reset left counts behind")
	}
}

func TestSketchNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip(raceSkipReason)
	}
	s := NewSketch(0.01)
	o := NewSketch(0.01)
	o.Add(5)
	v := 1.0
	n := testing.AllocsPerRun(1000, func() {
		v *= 1.37
		if v > 1e6 {
			v = 1e-3
		}
		s.Add(v)
		s.Add(-v)
		_ = s.Merge(o)
		_ = s.Quantile(0.99)
	})
	if n != 0 {
		t.Fatalf("%v allocs per run", n)
	}
}
