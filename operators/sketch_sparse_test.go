package operators

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// sameQuantiles fails unless a and b hold the same values as far as any
// reader can tell: count, extremes and every quantile.
func sameQuantiles(t *testing.T, what string, a, b *Sketch) {
	t.Helper()
	if a.Count() != b.Count() || a.zero != b.zero {
		t.Fatalf("%s: count %d/%d zero %d/%d", what, a.Count(), b.Count(), a.zero, b.zero)
	}
	same := func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) }
	if !same(a.min, b.min) || !same(a.max, b.max) {
		t.Fatalf("%s: min %v/%v max %v/%v", what, a.min, b.min, a.max, b.max)
	}
	for _, q := range []float64{0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1} {
		if x, y := a.Quantile(q), b.Quantile(q); !same(x, y) {
			t.Fatalf("%s: q%v %v, want %v", what, q, x, y)
		}
	}
}

// A sparseSketch replayed is the Sketch that adding the same values builds:
// a window's quantiles do not depend on whether it stayed sparse, moved
// to a dense sketch, or was merged from parts.
func TestSparseSketchReplaysAsDense(t *testing.T) {
	const alpha = 0.01
	proto := NewSketch(alpha)
	rng := rand.New(rand.NewPCG(17, 4))
	value := func(spread float64) float64 {
		switch r := rng.IntN(100); {
		case r == 0:
			return 0
		case r == 1:
			return math.Inf(1 - 2*rng.IntN(2))
		case r == 2:
			return math.NaN()
		case r < 12:
			return -(20 * (1 + spread*rng.Float64()))
		default:
			return 20 * (1 + spread*rng.Float64())
		}
	}
	fitted, overflowed := 0, 0
	for trial := range 3000 {
		spread := []float64{0.001, 0.05, 0.3, 100}[trial%4]
		var whole, left, right sparseSketch
		whole.reset()
		left.reset()
		right.reset()
		direct := NewSketch(alpha)
		fits, partsFit := true, true
		for k := range 1 + rng.IntN(30) {
			v := value(spread)
			direct.Add(v)
			fits = fits && whole.add(proto, v)
			part := &left
			if k%2 == 1 {
				part = &right
			}
			partsFit = partsFit && part.add(proto, v)
		}
		if !fits {
			overflowed++
			continue
		}
		fitted++
		got := NewSketch(alpha)
		whole.replay(got)
		sameQuantiles(t, "replay", got, direct)
		// Replaying into a sketch that already holds values is a merge.
		got = NewSketch(alpha)
		got.Add(7)
		whole.replay(got)
		want := NewSketch(alpha)
		want.Add(7)
		_ = want.Merge(direct)
		sameQuantiles(t, "replay onto a value", got, want)
		if partsFit && left.merge(&right) {
			got = NewSketch(alpha)
			left.replay(got)
			sameQuantiles(t, "merged parts", got, direct)
		}
	}
	if fitted < 500 || overflowed < 200 {
		t.Fatalf("%d trials fitted, %d overflowed: both cases want cover", fitted, overflowed)
	}
}

// A full sparseSketch refuses a new bucket without changing, and a merge
// that would overflow changes nothing either.
func TestSparseSketchFull(t *testing.T) {
	proto := NewSketch(0.01)
	var p sparseSketch
	p.reset()
	for j := range sparseBins {
		if !p.add(proto, float64(int64(1)<<j)) {
			t.Fatalf("value %d refused", j)
		}
	}
	before := p
	if p.add(proto, 1<<40) || p != before {
		t.Fatalf("a new bucket in a full sparseSketch: %v, %+v", p.add(proto, 1<<40), p)
	}
	if !p.add(proto, 1) || p.count != before.count+1 {
		t.Fatal("a value of a bucket in use refused")
	}
	var q sparseSketch
	q.reset()
	q.add(proto, -3)
	before = p
	if p.merge(&q) || p != before {
		t.Fatal("an overflowing merge changed the sketch")
	}
}

// README.md states the sizes: a window's sparse quantiles beside its
// 160-byte slot.
func TestSparseSketchSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the sizes README.md states are those of 64-bit platforms")
	}
	if sparseBytes != 152 || unsafe.Sizeof(slot{}) != 160 {
		t.Errorf("sparseSketch %d B, slot %d B: update README.md (aggregates, memory_limit)", sparseBytes, unsafe.Sizeof(slot{}))
	}
}
