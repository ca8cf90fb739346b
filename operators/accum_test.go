package operators

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/edgeplane/edgeplane/record"
)

// exactM2 is the two-pass sum of squared deviations, computed in 256-bit
// floats so that the reference itself suffers no cancellation.
func exactM2(xs []float64) (mean, m2 float64) {
	const prec = 256
	sum := new(big.Float).SetPrec(prec)
	for _, x := range xs {
		sum.Add(sum, big.NewFloat(x).SetPrec(prec))
	}
	mu := new(big.Float).SetPrec(prec).Quo(sum, big.NewFloat(float64(len(xs))).SetPrec(prec))
	acc := new(big.Float).SetPrec(prec)
	for _, x := range xs {
		d := new(big.Float).SetPrec(prec).Sub(big.NewFloat(x).SetPrec(prec), mu)
		acc.Add(acc, d.Mul(d, d))
	}
	mean, _ = mu.Float64()
	m2, _ = acc.Float64()
	return mean, m2
}

func relErr(got, want float64) float64 {
	if got == want {
		return 0
	}
	return math.Abs(got-want) / math.Max(math.Abs(want), math.SmallestNonzeroFloat64)
}

func TestWelfordChanAgainstTwoPass(t *testing.T) {
	const set = Count | Variance
	f := func(name string, xs []float64) {
		t.Helper()
		wantMean, wantM2 := exactM2(xs)
		// One accumulator, in order.
		var a acc
		for i, x := range xs {
			a.add(x, int64(i), 0, set)
		}
		// Chan merges of uneven parts, in a scrambled order of merging.
		rng := rand.New(rand.NewPCG(1, uint64(len(xs))))
		var parts []acc
		for i := 0; i < len(xs); {
			n := 1 + rng.IntN(len(xs)/4+1)
			var p acc
			for j := i; j < min(i+n, len(xs)); j++ {
				p.add(xs[j], int64(j), 0, set)
			}
			parts = append(parts, p)
			i += n
		}
		for len(parts) > 1 {
			i := rng.IntN(len(parts) - 1)
			parts[i].merge(&parts[i+1], set)
			parts = append(parts[:i+1], parts[i+2:]...)
		}
		for _, got := range []acc{a, parts[0]} {
			var out record.Aggregate
			got.fill(&out, set)
			if out.Count != uint64(len(xs)) {
				t.Fatalf("%s: count %d", name, out.Count)
			}
			if e := relErr(out.M2, wantM2); e > 1e-9 {
				t.Errorf("%s: M2 %v, two-pass %v (rel err %.3g)", name, out.M2, wantM2, e)
			}
			if e := relErr(out.WMean, wantMean); e > 1e-12 {
				t.Errorf("%s: mean %v, two-pass %v (rel err %.3g)", name, out.WMean, wantMean, e)
			}
		}
	}
	rng := rand.New(rand.NewPCG(7, 7))
	gen := func(n int, fn func() float64) []float64 {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = fn()
		}
		return xs
	}
	f("uniform", gen(1000, func() float64 { return rng.Float64() * 100 }))
	f("normal", gen(5000, func() float64 { return rng.NormFloat64()*3 + 20 }))
	// Catastrophic cancellation: the naive Σx² − (Σx)²/n loses every digit.
	f("offset 1e9, variance 30", []float64{1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16})
	f("offset 1e9, tiny noise", gen(2000, func() float64 { return 1e9 + rng.Float64()*1e-3 }))
	f("offset 1e12, normal", gen(2000, func() float64 { return 1e12 + rng.NormFloat64() }))
	f("negative offset", gen(500, func() float64 { return -5e8 + rng.Float64() }))
	f("constant", gen(100, func() float64 { return 1e9 + 0.5 }))
}

func TestFirstLastTieBySeq(t *testing.T) {
	var a acc
	const set = Count | First | Last
	a.add(2, 10, 5, set)
	a.add(1, 10, 3, set) // same time, earlier seq: first
	a.add(3, 10, 9, set) // same time, later seq: last
	a.add(7, 11, 1, set)
	a.add(0, 10, 4, set) // interior
	var out record.Aggregate
	a.fill(&out, set)
	if out.First != 1 || out.FirstTime != 10 || out.Last != 7 || out.LastTime != 11 {
		t.Fatalf("%+v", out)
	}
	var b acc
	b.add(-1, 10, 1, set) // earlier seq than every reading of a
	b.merge(&a, set)
	b.fill(&out, set)
	if out.First != -1 || out.Last != 7 {
		t.Fatalf("merge: %+v", out)
	}
}

func TestRateResetAware(t *testing.T) {
	const set = Count | Rate
	type pt struct {
		t int64
		v float64
	}
	f := func(pts []pt, wantInc, wantRate float64) {
		t.Helper()
		// In order, one accumulator.
		var a acc
		for i, p := range pts {
			a.add(p.v, p.t, uint64(i), set)
		}
		var out record.Aggregate
		a.fill(&out, set)
		if out.Increase != wantInc || out.Rate != wantRate {
			t.Fatalf("in order: increase %v rate %v, want %v %v", out.Increase, out.Rate, wantInc, wantRate)
		}
		// Split at every point and merged both ways round (panes, sessions).
		for cut := 1; cut < len(pts); cut++ {
			var x, y acc
			for i, p := range pts[:cut] {
				x.add(p.v, p.t, uint64(i), set)
			}
			for i, p := range pts[cut:] {
				y.add(p.v, p.t, uint64(cut+i), set)
			}
			y2 := y
			x.merge(&y, set)
			y2.merge(&a, set) // overlapping: only used to exercise the path
			x.fill(&out, set)
			if out.Increase != wantInc {
				t.Fatalf("cut %d: increase %v, want %v", cut, out.Increase, wantInc)
			}
			var x2 acc
			for i, p := range pts[:cut] {
				x2.add(p.v, p.t, uint64(i), set)
			}
			var y3 acc
			for i, p := range pts[cut:] {
				y3.add(p.v, p.t, uint64(cut+i), set)
			}
			y3.merge(&x2, set) // later.merge(earlier)
			y3.fill(&out, set)
			if out.Increase != wantInc {
				t.Fatalf("cut %d reversed: increase %v, want %v", cut, out.Increase, wantInc)
			}
		}
		// Reverse arrival: each point is before the first seen so far.
		var r acc
		for i := len(pts) - 1; i >= 0; i-- {
			r.add(pts[i].v, pts[i].t, uint64(i), set)
		}
		r.fill(&out, set)
		if out.Increase != wantInc {
			t.Fatalf("reverse arrival: increase %v, want %v", out.Increase, wantInc)
		}
	}
	f([]pt{{0, 10}, {1000, 20}, {2000, 40}}, 30, 15)
	// Reset between 2000 and 3000: 40 → 5 counts 5.
	f([]pt{{0, 10}, {1000, 20}, {2000, 40}, {3000, 5}, {4000, 15}}, 30+5+10, 45.0/4)
	f([]pt{{0, 10}}, 0, 0)
}

func TestAccMinMaxSumMerge(t *testing.T) {
	const set = Count | Sum | Min | Max
	var a, b acc
	for _, v := range []float64{3, -1, 4} {
		a.add(v, 0, 0, set)
	}
	for _, v := range []float64{10, -7} {
		b.add(v, 0, 0, set)
	}
	var empty acc
	a.merge(&empty, set)
	empty.merge(&a, set)
	empty.merge(&b, set)
	var out record.Aggregate
	empty.fill(&out, set)
	if out.Count != 5 || out.Sum != 9 || out.Min != -7 || out.Max != 10 || out.Mean() != 1.8 {
		t.Fatalf("%+v", out)
	}
}
