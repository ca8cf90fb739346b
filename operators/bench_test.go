package operators

import (
	"fmt"
	"testing"

	"github.com/edgeplane/edgeplane/record"
)

var benchSink uint64

// benchStream is a sensor fleet: every series reports once per 100 ms tick
// of event time, round robin, with every 16th reading 150 ms out of order.
// Every 20 ticks the fleet pauses 1 s (sessions close).
type benchStream struct {
	series int
	i      uint64
}

func (g *benchStream) fill(b []record.Sample) {
	for j := range b {
		i := g.i
		g.i++
		tick := int64(i / uint64(g.series))
		t := 1_700_000_000_000 + tick*100 + tick/20*1000
		if i%16 == 5 {
			t -= 150
		}
		b[j] = record.Sample{Series: uint32(i % uint64(g.series)), Time: t, Value: float64(i&1023) * 0.1, Seq: i}
	}
}

func BenchmarkShard(b *testing.B) {
	basic := Count | Sum | Min | Max | Mean
	all := basic | First | Last | Variance | Stddev | Rate
	cases := []struct {
		name string
		c    Config
	}{
		{"tumbling", Config{Kind: record.Tumbling, Size: 1000, OutOfOrder: 200, Aggregates: basic}},
		{"tumbling/lateness", Config{Kind: record.Tumbling, Size: 1000, OutOfOrder: 100, AllowedLateness: 500, Aggregates: basic}},
		{"tumbling/all", Config{Kind: record.Tumbling, Size: 1000, OutOfOrder: 200, Aggregates: all}},
		{"tumbling/p50p99", Config{Kind: record.Tumbling, Size: 1000, OutOfOrder: 200, Aggregates: basic, Quantiles: []float64{0.5, 0.99}}},
		{"hopping", Config{Kind: record.Hopping, Size: 1000, Advance: 250, OutOfOrder: 200, Aggregates: basic}},
		{"session", Config{Kind: record.Session, Gap: 300, OutOfOrder: 200, Aggregates: basic}},
		// Per-series time (WINDOWS.md D): the same streams, each series by
		// its own watermark.
		{"tumbling/scope=series", Config{Kind: record.Tumbling, Size: 1000, OutOfOrder: 200, Aggregates: basic, Watermark: SeriesScope, IdleTimeout: 30_000}},
		{"hopping/scope=series", Config{Kind: record.Hopping, Size: 1000, Advance: 250, OutOfOrder: 200, Aggregates: basic, Watermark: SeriesScope, IdleTimeout: 30_000}},
		{"session/scope=series", Config{Kind: record.Session, Gap: 300, OutOfOrder: 200, Aggregates: basic, Watermark: SeriesScope, IdleTimeout: 30_000}},
	}
	for _, series := range []int{10_000, 100_000} {
		for _, tc := range cases {
			b.Run(fmt.Sprintf("%s/series=%d", tc.name, series), func(b *testing.B) {
				c := tc.c
				c.MaxSeries = series
				em := &countEmitter{}
				sh, err := NewShard(&c, NewWatermarks(&c), em)
				if err != nil {
					b.Fatal(err)
				}
				g := &benchStream{series: series}
				batch := make([]record.Sample, 256)
				// Warm up: two window lengths of data, so steady state
				// (firing and purging every tick) is what is measured.
				for range 2 * 20 * series / len(batch) {
					g.fill(batch)
					sh.Process(batch, 0)
				}
				b.SetBytes(32) // one record.Sample
				b.ReportAllocs()
				b.ResetTimer()
				for n := 0; n < b.N; n += len(batch) {
					g.fill(batch)
					sh.Process(batch, 0)
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "samples/s")
				b.ReportMetric(float64(sh.stateBytes())/float64(series), "state-B/series")
				st := sh.Stats()
				if st.RefusedWindows != 0 || st.SketchRefused != 0 {
					b.Fatalf("refused %d windows, the quantiles of %d", st.RefusedWindows, st.SketchRefused)
				}
				benchSink += em.emitted
			})
		}
	}
}

// BenchmarkSketchAdd measures one quantile-sketch insertion.
func BenchmarkSketchAdd(b *testing.B) {
	s := NewSketch(0.01)
	b.ReportAllocs()
	v := 1.0
	for range b.N {
		v *= 1.0001
		s.Add(v)
	}
	benchSink += s.Count()
}
