package operators

import (
	"testing"

	"github.com/edgeplane/edgeplane/record"
)

// TestOpenWindowsEqualEmission: for tumbling, hopping and session windows,
// the partial aggregates OpenWindows reports equal what the windows emit
// when they fire (the final flag aside), and inspecting changes nothing:
// the counters and the emissions are those of an uninspected twin.
func TestOpenWindowsEqualEmission(t *testing.T) {
	for _, c := range []Config{
		{Kind: record.Tumbling, Size: 1000, Fields: 2, MaxSeries: 4, Aggregates: Count | Sum | Min | Max | Last | Variance | Quantiles, Quantiles: []float64{0.5, 0.9}},
		{Kind: record.Hopping, Size: 3000, Advance: 1000, Fields: 2, MaxSeries: 4, Aggregates: Count | Sum | First | Rate | Quantiles, Quantiles: []float64{0.5}},
		{Kind: record.Session, Gap: 500, Fields: 2, MaxSeries: 4, Aggregates: Count | Sum | Mean},
	} {
		t.Run(c.Kind.String(), func(t *testing.T) {
			sh, rec := newTestShard(t, c)
			twin, trec := newTestShard(t, c)
			var b []record.Sample
			for i := range 40 {
				b = append(b, record.Sample{Series: uint32(i % 3), Field: uint16(i % 2), Time: 10_000 + int64(i)*70, Value: float64(i*i%17) + 0.5, Seq: uint64(i)})
			}
			sh.Process(b, 0)
			twin.Process(b, 0)
			open := map[[3]int64]record.Aggregate{}
			n := 0
			for series := uint32(0); series < 4; series++ {
				sh.OpenWindows(series, func(a *record.Aggregate) {
					if a.Series != series || a.Flags&record.AggFinal != 0 {
						t.Fatalf("partial %+v for series %d", a, series)
					}
					open[[3]int64{int64(a.Series), int64(a.Field), a.Start}] = *a
					n++
				})
			}
			if n == 0 || sh.OpenSlots(0) == 0 || sh.OpenSlots(3) != 0 || sh.OpenSlots(99) != 0 {
				t.Fatalf("%d partials, open slots %d %d", n, sh.OpenSlots(0), sh.OpenSlots(3))
			}
			if sh.Stats() != twin.Stats() {
				t.Fatalf("inspection changed the counters: %+v vs %+v", sh.Stats(), twin.Stats())
			}
			// A reading far ahead fires everything that was open.
			far := []record.Sample{{Series: 3, Time: 1_000_000, Value: 1}}
			sh.Process(far, 0)
			twin.Process(far, 0)
			got, _ := rec.take()
			want, _ := trec.take()
			if len(got) != len(want) {
				t.Fatalf("%d emissions, uninspected twin %d", len(got), len(want))
			}
			matched := 0
			for i, a := range got {
				if a != want[i] {
					t.Fatalf("emission %d differs from the twin's: %+v vs %+v", i, a, want[i])
				}
				p, ok := open[[3]int64{int64(a.Series), int64(a.Field), a.Start}]
				if !ok {
					continue
				}
				a.Flags &^= record.AggFinal
				if p != a {
					t.Fatalf("partial %+v\nemitted %+v", p, a)
				}
				matched++
			}
			if matched != n {
				t.Fatalf("%d of %d partials were emitted", matched, n)
			}
		})
	}
}
