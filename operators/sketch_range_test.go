package operators

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/edgeplane/edgeplane/record"
)

// checkSketch checks the layout invariants of s: each store's range lies
// in the array, the positive one before the negative one, every position
// outside them holds 0, the counts add up, and no store needs more than
// SketchBins buckets with the other.
func checkSketch(t *testing.T, s *Sketch) {
	t.Helper()
	used := make([]bool, SketchBins)
	var total uint64
	end := int32(SketchBins)
	for _, neg := range []bool{true, false} {
		st := s.store(neg)
		if st.n == 0 {
			if st.minI <= st.maxI {
				t.Fatalf("neg=%v: empty store with range [%d,%d]", neg, st.minI, st.maxI)
			}
			continue
		}
		a, b := st.positions(neg, st.minI, st.maxI)
		if a < 0 || b >= end {
			t.Fatalf("neg=%v: range [%d,%d] at positions [%d,%d], limit %d", neg, st.minI, st.maxI, a, b, end)
		}
		end = a
		var n uint64
		for p := a; p <= b; p++ {
			used[p] = true
			n += uint64(s.counts[p])
		}
		if n != st.n {
			t.Fatalf("neg=%v: buckets hold %d, n %d", neg, n, st.n)
		}
		if s.floor != math.MinInt32 && st.minI < min(s.floor, st.maxI) {
			t.Fatalf("neg=%v: bucket %d below the threshold %d", neg, st.minI, s.floor)
		}
		total += n
	}
	for p, c := range s.counts {
		if !used[p] && c != 0 {
			t.Fatalf("position %d outside the stores holds %d", p, c)
		}
	}
	if total+s.zero != s.count {
		t.Fatalf("count %d, buckets and zeros %d", s.count, total+s.zero)
	}
}

// The reported repros: windows whose values span a ratio above 10⁹, in
// every order.
func TestSketchWideRangeRepros(t *testing.T) {
	for _, xs := range [][]float64{{10, 20, 3e10}, {1e10, 10, 20}, {10, 20, 1e12}, {10, 20, 1e15}, {-10, -20, -1e15}} {
		want := slices.Sorted(slices.Values(xs))[1]
		perm := slices.Clone(xs)
		for range 6 {
			s := NewSketch(0.01)
			for _, v := range perm {
				s.Add(v)
			}
			checkSketch(t, s)
			if got := s.Quantile(0.5); relErr(got, want) > 0.01 {
				t.Errorf("p50 of %v = %v, want %v within 1%%", perm, got, want)
			}
			perm[0], perm[1], perm[2] = perm[1], perm[2], perm[0]
			if len(perm) == 3 && perm[0] == xs[0] {
				perm[1], perm[2] = perm[2], perm[1]
			}
		}
	}
}

// logUniform draws n values whose logarithm is uniform over decades
// decades, starting at 10^lo, with sign sign.
func logUniform(r *rand.Rand, n int, lo, decades, sign float64) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = sign * math.Pow(10, lo+r.Float64()*decades)
	}
	return xs
}

// Quantiles keep relative accuracy α for values spanning up to 10¹⁵, of
// either sign or both, added in random, increasing or decreasing order.
func TestSketchAccuracyWideRanges(t *testing.T) {
	qs := []float64{0.05, 0.5, 0.95, 0.99}
	for seed := range uint64(5) {
		r := rand.New(rand.NewPCG(seed, 0xd1ce))
		for _, decades := range []float64{3, 6, 9, 12, 15} {
			lo := r.Float64()*20 - 10 // anywhere from 10⁻¹⁰ up
			cases := map[string][]float64{
				"positive": logUniform(r, 4000, lo, decades, 1),
				"negative": logUniform(r, 4000, lo, decades, -1),
				// Both signs: 17.6 decades of buckets in all, shared.
				"both": append(logUniform(r, 2000, lo, min(decades, 9), 1), logUniform(r, 2000, lo, min(decades, 8), -1)...),
			}
			for name, xs := range cases {
				for _, order := range []string{"random", "increasing", "decreasing"} {
					switch order {
					case "increasing":
						slices.Sort(xs)
					case "decreasing":
						slices.Sort(xs)
						slices.Reverse(xs)
					}
					for _, alpha := range []float64{0.01, 0.02} {
						s := NewSketch(alpha)
						for _, v := range xs {
							s.Add(v)
						}
						checkSketch(t, s)
						sorted := slices.Sorted(slices.Values(xs))
						for _, q := range qs {
							got, want := s.Quantile(q), exactQuantile(sorted, q)
							if e := relErr(got, want); e > alpha*(1+1e-9) {
								t.Errorf("seed %d, %s over %v decades from 1e%.1f, %s, α=%v: p%v = %v, exact %v, rel err %.3g",
									seed, name, decades, lo, order, alpha, q*100, got, want, e)
							}
						}
					}
				}
			}
		}
	}
}

// Beyond the bucket budget the lowest magnitudes collapse: quantiles
// above the threshold stay within α, those in the collapsed bucket are
// reported at its value, never below the exact one. Memory stays fixed.
func TestSketchCollapseLowest(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, sign := range []float64{1, -1} {
		xs := logUniform(r, 20000, -12, 30, sign) // 30 decades: 3450 buckets
		s := NewSketch(0.01)
		for _, v := range xs {
			s.Add(v)
		}
		checkSketch(t, s)
		st := s.store(sign < 0)
		if st.maxI-st.minI+1 != SketchBins || s.floor != st.minI {
			t.Fatalf("sign %v: range [%d,%d], threshold %d", sign, st.minI, st.maxI, s.floor)
		}
		thr := math.Pow(s.gamma, float64(s.floor)) // top of the collapsed bucket
		slices.Sort(xs)
		for q := 0.01; q < 1; q += 0.01 {
			got, want := s.Quantile(q), exactQuantile(xs, q)
			switch {
			case math.Abs(want) > thr:
				if e := relErr(got, want); e > 0.01*(1+1e-9) {
					t.Errorf("sign %v: q%.2f = %v, exact %v (above the threshold %v), rel err %.3g", sign, q, got, want, thr, e)
				}
			case math.Abs(got) < math.Abs(want)*(1-1e-9) || math.Abs(got) > thr:
				t.Errorf("sign %v: q%.2f = %v, exact %v, collapsed below %v", sign, q, got, want, thr)
			}
		}
		if s.Quantile(0) != xs[0] || s.Quantile(1) != xs[len(xs)-1] {
			t.Errorf("sign %v: min/max %v %v", sign, s.Quantile(0), s.Quantile(1))
		}
	}
	// Both signs over 12 decades each: 2764 buckets, the lowest magnitudes
	// of both collapse at one threshold.
	xs := append(logUniform(r, 5000, 0, 12, 1), logUniform(r, 5000, 0, 12, -1)...)
	s := NewSketch(0.01)
	for _, v := range xs {
		s.Add(v)
	}
	checkSketch(t, s)
	if w := (s.pos.maxI - s.pos.minI + 1) + (s.neg.maxI - s.neg.minI + 1); w != SketchBins || s.pos.minI != s.floor || s.neg.minI != s.floor {
		t.Fatalf("both signs: ranges [%d,%d] and [%d,%d], threshold %d", s.pos.minI, s.pos.maxI, s.neg.minI, s.neg.maxI, s.floor)
	}
	slices.Sort(xs)
	for _, q := range []float64{0.01, 0.05, 0.95, 0.99} {
		if e := relErr(s.Quantile(q), exactQuantile(xs, q)); e > 0.01*(1+1e-9) {
			t.Errorf("both signs: q%v = %v, exact %v", q, s.Quantile(q), exactQuantile(xs, q))
		}
	}
}

// sameSketch is sameBuckets and the same collapse threshold.
func sameSketch(a, b *Sketch) bool { return sameBuckets(a, b) && a.floor == b.floor }

// sketchOf sketches xs in the order given.
func sketchOf(alpha float64, xs []float64) *Sketch {
	s := NewSketch(alpha)
	for _, v := range xs {
		s.Add(v)
	}
	return s
}

// The buckets depend on the values, not on their order nor on how they
// were split and merged: over disjoint wide ranges, with and without
// collapse, of one sign or both, merged in any order, into empty or
// filled sketches.
func TestSketchMergeWideRanges(t *testing.T) {
	type part struct{ lo, decades, sign float64 }
	cases := map[string][]part{
		"disjoint, fits":           {{-3, 6, 1}, {8, 6, 1}},                    // 17 decades
		"disjoint, collapses":      {{-10, 10, 1}, {5, 10, 1}},                 // 25 decades
		"three, collapses":         {{-20, 5, 1}, {0, 5, 1}, {20, 5, 1}},       // 45 decades
		"both signs, fit":          {{-2, 6, 1}, {3, 5, -1}},                   // 8 + 10 decades
		"both signs, collapse":     {{0, 12, 1}, {0, 12, -1}},                  // 2 × 12 decades
		"one sign wide, other low": {{-5, 16, 1}, {-8, 1, -1}, {-8, 1, 1}},     // collapses the low ones
		"tiny and huge":            {{-300, 2, 1}, {300, 2, 1}, {-300, 2, -1}}, // ends of float64
		"negative disjoint, fits":  {{-6, 4, -1}, {6, 4, -1}, {-1, 1, 1}},      // 17 decades and a few
	}
	r := rand.New(rand.NewPCG(21, 21))
	for name, parts := range cases {
		var all []float64
		var pieces [][]float64
		for _, p := range parts {
			xs := logUniform(r, 1500, p.lo, p.decades, p.sign)
			if p.sign > 0 && r.IntN(2) == 0 {
				xs = append(xs, 0, 0)
			}
			pieces = append(pieces, xs)
			all = append(all, xs...)
		}
		union := sketchOf(0.01, all)
		checkSketch(t, union)
		if collapsed := union.floor != math.MinInt32; collapsed != !strings.Contains(name, "fit") {
			t.Errorf("%s: collapsed %v", name, collapsed)
		}
		for _, order := range []string{"random", "increasing", "decreasing"} {
			ys := slices.Clone(all)
			switch order {
			case "random":
				r.Shuffle(len(ys), func(i, j int) { ys[i], ys[j] = ys[j], ys[i] })
			case "increasing":
				slices.Sort(ys)
			case "decreasing":
				slices.Sort(ys)
				slices.Reverse(ys)
			}
			if s := sketchOf(0.01, ys); !sameSketch(s, union) {
				t.Errorf("%s: %s order gives other buckets", name, order)
			}
		}
		// Merge the pieces in every order, into an empty sketch and into
		// one holding the first piece.
		idx := make([]int, len(pieces))
		for i := range idx {
			idx[i] = i
		}
		for range 6 {
			r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
			m := NewSketch(0.01)
			for _, i := range idx {
				if err := m.Merge(sketchOf(0.01, pieces[i])); err != nil {
					t.Fatal(err)
				}
				checkSketch(t, m)
			}
			if !sameSketch(m, union) {
				t.Errorf("%s: merged in order %v: buckets differ from the union's", name, idx)
			}
			into := sketchOf(0.01, pieces[idx[0]])
			for _, i := range idx[1:] {
				_ = into.Merge(sketchOf(0.01, pieces[i]))
			}
			if !sameSketch(into, union) {
				t.Errorf("%s: merged into a filled sketch in order %v: buckets differ", name, idx)
			}
		}
		// Random splits of the values, not by range.
		ps := []*Sketch{NewSketch(0.01), NewSketch(0.01), NewSketch(0.01)}
		for _, v := range all {
			ps[r.IntN(3)].Add(v)
		}
		m := NewSketch(0.01)
		for _, i := range []int{1, 2, 0} {
			_ = m.Merge(ps[i])
		}
		if !sameSketch(m, union) {
			t.Errorf("%s: random split merged: buckets differ", name)
		}
		slices.Sort(all)
		for _, q := range testQuantiles {
			if a, b := m.Quantile(q), union.Quantile(q); a != b {
				t.Errorf("%s: q%v merged %v, union %v", name, q, a, b)
			}
		}
	}
}

// Random adds and merges of values of random magnitude and sign keep the
// invariants and equal the sketch of all values at every step.
func TestSketchRandomOps(t *testing.T) {
	for seed := range uint64(30) {
		r := rand.New(rand.NewPCG(seed, 77))
		lo, hi := r.Float64()*40-20, r.Float64()*40-20
		if lo > hi {
			lo, hi = hi, lo
		}
		draw := func() float64 {
			switch r.IntN(20) {
			case 0:
				return 0
			case 1:
				return math.Pow(10, r.Float64()*600-300) // anywhere
			}
			v := math.Pow(10, lo+r.Float64()*(hi-lo+0.1))
			if r.IntN(3) == 0 {
				v = -v
			}
			return v
		}
		s := NewSketch(0.01)
		var all []float64
		for step := range 300 {
			if r.IntN(5) == 0 {
				var xs []float64
				for range r.IntN(200) {
					xs = append(xs, draw())
				}
				_ = s.Merge(sketchOf(0.01, xs))
				all = append(all, xs...)
			} else {
				for range 1 + r.IntN(20) {
					v := draw()
					s.Add(v)
					all = append(all, v)
				}
			}
			checkSketch(t, s)
			if step%50 == 49 && !sameSketch(s, sketchOf(0.01, all)) {
				t.Fatalf("seed %d step %d: buckets differ from the sketch of all values", seed, step)
			}
		}
		if s.Reset(); s.Count() != 0 || s.floor != math.MinInt32 {
			t.Fatalf("seed %d: reset left count %d floor %d", seed, s.Count(), s.floor)
		}
		checkSketch(t, s)
		for _, c := range s.counts {
			if c != 0 {
				t.Fatalf("seed %d: reset left counts behind", seed)
			}
		}
	}
}

// ±Inf count in the outermost buckets (no panic, whatever comes next);
// quantiles 0 and 1 are exact.
func TestSketchInfinities(t *testing.T) {
	s := NewSketch(0.01)
	for _, v := range []float64{math.Inf(1), 1, math.Inf(-1), -1, 1e300, 5e-324, math.NaN()} {
		s.Add(v)
		checkSketch(t, s)
	}
	if s.Count() != 6 || s.Quantile(0) != math.Inf(-1) || s.Quantile(1) != math.Inf(1) {
		t.Fatalf("count %d q0 %v q1 %v", s.Count(), s.Quantile(0), s.Quantile(1))
	}
	// The positive values span all of float64: 5e-324 and 1 collapse, the
	// top keeps its accuracy.
	if got := s.Quantile(0.8); relErr(got, 1e300) > 0.01 {
		t.Fatalf("p80 %v, want 1e300", got)
	}
}

// Adding allocates nothing, on the fast path and on the slow one (range
// growth, moves, collapse), and neither do Merge, Quantile and Reset.
func TestSketchAddNoAllocsWide(t *testing.T) {
	if raceEnabled {
		t.Skip(raceSkipReason)
	}
	r := rand.New(rand.NewPCG(4, 4))
	xs := logUniform(r, 4096, -150, 300, 1)
	for i := range xs {
		if i%3 == 0 {
			xs[i] = -xs[i]
		}
	}
	s, o := NewSketch(0.01), sketchOf(0.01, xs[:100])
	i := 0
	if n := testing.AllocsPerRun(10000, func() {
		s.Add(xs[i&4095])
		i++
	}); n != 0 {
		t.Fatalf("Add: %v allocs per run", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		_ = s.Merge(o)
		_ = s.Quantile(0.5)
		_ = s.Quantile(0.99)
		s.Reset()
		s.Add(xs[i&4095])
		i++
	}); n != 0 {
		t.Fatalf("Merge/Quantile/Reset: %v allocs per run", n)
	}
}

// End to end: a window holding 10, 20 and 1e12 reports p50 = 20 within 1%
// (WINDOWS.md, section D, "Quantiles"), for tumbling and hopping windows.
func TestShardQuantilesWideRange(t *testing.T) {
	for _, kind := range []record.WindowKind{record.Tumbling, record.Hopping} {
		t.Run(fmt.Sprint(kind), func(t *testing.T) {
			c := Config{Kind: kind, Size: 1000, Advance: 500, OutOfOrder: 10, Aggregates: Count, Quantiles: []float64{0.5}, MaxSeries: 2}
			if kind == record.Tumbling {
				c.Advance = 0
			}
			rec := &recorder{}
			sh, err := NewShard(&c, NewWatermarks(&c), rec)
			if err != nil {
				t.Fatal(err)
			}
			// In two panes of the hopping window, so the merge sees it too.
			base := int64(1_700_000_000_000)
			sh.Process([]record.Sample{{Series: 1, Time: base + 100, Value: 1e12}, {Series: 1, Time: base + 600, Value: 10}, {Series: 1, Time: base + 700, Value: 20}}, 0)
			sh.Flush()
			found := false
			for _, a := range rec.aggs {
				if a.Start != base || a.Count != 3 {
					continue
				}
				found = true
				if a.NQ != 1 || relErr(a.QV[0], 20) > 0.01 {
					t.Errorf("[%d,%d): quantiles %v = %v", a.Start, a.End, a.Q[:a.NQ], a.QV[:a.NQ])
				}
			}
			if !found {
				t.Fatalf("no window [%d,%d) with 3 values in %v", base, base+1000, brief(rec.aggs))
			}
		})
	}
}

// Every rank, counted from the bottom (below the middle) or from the top,
// is within α of the exact value, across negatives, zeros and positives.
func TestSketchQuantileEveryRank(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 34))
	for range 200 {
		n := 1 + r.IntN(40)
		xs := make([]float64, n)
		for i := range xs {
			switch r.IntN(3) {
			case 0:
				xs[i] = 0
			case 1:
				xs[i] = -math.Exp(r.NormFloat64() * 3)
			default:
				xs[i] = math.Exp(r.NormFloat64() * 3)
			}
		}
		s := sketchOf(0.01, xs)
		if s.floor != math.MinInt32 {
			t.Fatalf("%v: collapsed", xs) // within 2048 buckets: 900 per sign at 4σ
		}
		slices.Sort(xs)
		for rank := range n - 1 {
			q := (float64(rank) + 0.25) / float64(n-1)
			if got, want := s.Quantile(q), xs[rank]; relErr(got, want) > 0.01*(1+1e-9) {
				t.Fatalf("%v: rank %d (q %v) = %v, exact %v", xs, rank, q, got, want)
			}
		}
	}
}
