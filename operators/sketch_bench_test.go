package operators

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// sketchBenchValues are 4096 readings drawn once: "narrow" is a sensor's
// usual spread (lognormal around 20, a few decades), "wide" is log-uniform
// over twelve decades, "mixed" is narrow with both signs and zeros.
func sketchBenchValues(kind string) []float64 {
	r := rand.New(rand.NewPCG(17, 4096))
	xs := make([]float64, 4096)
	for i := range xs {
		switch kind {
		case "narrow":
			xs[i] = 20 * math.Exp(r.NormFloat64())
		case "wide":
			xs[i] = math.Pow(10, r.Float64()*12)
		case "mixed":
			xs[i] = r.NormFloat64() * 15
			if r.IntN(16) == 0 {
				xs[i] = 0
			}
		}
	}
	return xs
}

// BenchmarkSketchAddValues measures one insertion into a sketch that has
// seen the stream's range (the steady state of a window).
func BenchmarkSketchAddValues(b *testing.B) {
	for _, kind := range []string{"narrow", "wide", "mixed"} {
		b.Run(kind, func(b *testing.B) {
			xs := sketchBenchValues(kind)
			s := NewSketch(0.01)
			for _, v := range xs {
				s.Add(v)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				s.Add(xs[i&4095])
			}
			benchSink += s.Count()
		})
	}
}

// BenchmarkSketchQuantile measures one quantile query on a sketch of 4096
// readings.
func BenchmarkSketchQuantile(b *testing.B) {
	for _, kind := range []string{"narrow", "wide", "mixed"} {
		for _, q := range []float64{0.5, 0.99} {
			b.Run(fmt.Sprintf("%s/q%v", kind, q), func(b *testing.B) {
				s := NewSketch(0.01)
				for _, v := range sketchBenchValues(kind) {
					s.Add(v)
				}
				b.ReportAllocs()
				b.ResetTimer()
				var sum float64
				for range b.N {
					sum += s.Quantile(q)
				}
				benchSink += uint64(sum) & 1
			})
		}
	}
}

// BenchmarkSketchMerge measures merging a pane's sketch (256 readings)
// into a window's, then resetting the window's: the hopping firing path.
func BenchmarkSketchMerge(b *testing.B) {
	for _, kind := range []string{"narrow", "wide"} {
		b.Run(kind, func(b *testing.B) {
			xs := sketchBenchValues(kind)
			pane := NewSketch(0.01)
			for _, v := range xs[:256] {
				pane.Add(v)
			}
			w := NewSketch(0.01)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				_ = w.Merge(pane)
				_ = w.Merge(pane)
				w.Reset()
			}
		})
	}
}
