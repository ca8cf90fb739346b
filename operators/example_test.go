package operators_test

import (
	"fmt"

	"github.com/edgeplane/edgeplane/operators"
	"github.com/edgeplane/edgeplane/record"
)

type printer struct{}

func (printer) Emit(a *record.Aggregate) {
	fmt.Printf("series %d [%d,%d) count %d mean %.1f p50 %.1f rev %d final %v\n",
		a.Series, a.Start, a.End, a.Count, a.Mean(), a.QV[0], a.Revision, a.Flags&record.AggFinal != 0)
}

func (printer) Late(s *record.Sample) { fmt.Printf("late: series %d t=%d\n", s.Series, s.Time) }

// One pipeline: a Watermarks shared by its shards, one Shard per goroutine.
// Quantiles are estimates within the sketch's relative accuracy (1%).
func ExampleShard() {
	aggs, qs, err := operators.ParseAggregates([]string{"count", "mean", "p50"})
	if err != nil {
		panic(err)
	}
	c := operators.Config{
		Kind: record.Tumbling, Size: 60_000, OutOfOrder: 5_000,
		Aggregates: aggs, Quantiles: qs, MaxSeries: 1000, Fields: 1,
	}
	if err := c.Validate(); err != nil {
		panic(err)
	}
	wm := operators.NewWatermarks(&c)
	sh, err := operators.NewShard(&c, wm, printer{})
	if err != nil {
		panic(err)
	}
	now := int64(1_700_000_000_000) // wall clock, from a coarse ticker in real use
	sh.Process([]record.Sample{
		{Series: 7, Time: now - 50_000, Value: 20},
		{Series: 7, Time: now - 40_000, Value: 22},
		{Series: 7, Time: now - 30_000, Value: 21},
	}, now)
	sh.Process([]record.Sample{{Series: 7, Time: now + 6_000, Value: 25}}, now+6_000) // WM passes the window end
	sh.Process([]record.Sample{{Series: 7, Time: now - 45_000, Value: 0}}, now+6_000) // behind the window: late
	sh.Flush()
	st := sh.Stats()
	fmt.Println("in", st.SamplesIn, "late", st.Late, "emitted", st.Emitted)
	// Output:
	// series 7 [1699999920000,1699999980000) count 3 mean 21.0 p50 21.1 rev 0 final true
	// late: series 7 t=1699999955000
	// series 7 [1699999980000,1700000040000) count 1 mean 25.0 p50 25.0 rev 0 final true
	// in 5 late 1 emitted 2
}
