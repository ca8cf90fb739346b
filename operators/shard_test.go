package operators

import (
	"math"
	"testing"

	"github.com/edgeplane/edgeplane/record"
)

func newTestShard(t *testing.T, c Config) (*Shard, *recorder) {
	t.Helper()
	rec := &recorder{}
	sh, err := NewShard(&c, NewWatermarks(&c), rec)
	if err != nil {
		t.Fatal(err)
	}
	return sh, rec
}

func TestStatelessChain(t *testing.T) {
	scale, offset, err := UnitConversion("C", "f")
	if err != nil {
		t.Fatal(err)
	}
	c := Config{Kind: record.Tumbling, Size: 100, MaxSeries: 2, Fields: 2, Aggregates: Count | Sum | Min | Max, Dedup: true,
		Filters: []Filter{
			{Field: 0, Op: InRange, Min: -40, Max: 60},           // plausible °C
			{Field: 1, Op: NotEqual, Min: -1},                    // -1 = sensor error code
			{Field: AllFields, Op: InRange, Min: -1e9, Max: 1e9}, // drops NaN and ±Inf
		},
		Maps:      []FieldMap{{Field: 0, Scale: scale, Offset: offset}},
		Deadbands: []Deadband{{Field: 1, Threshold: 0.5, MaxGap: 50}},
	}
	sh, rec := newTestShard(t, c)
	in := []record.Sample{
		{Series: 0, Field: 0, Time: 1, Value: 20},         // 68 °F
		{Series: 0, Field: 0, Time: 1, Value: 21},         // duplicate time: deduped
		{Series: 0, Field: 0, Time: 2, Value: 100},        // filtered
		{Series: 0, Field: 0, Time: 3, Value: math.NaN()}, // filtered
		{Series: 0, Field: 0, Time: 4, Value: -40},        // −40 °F
		{Series: 0, Field: 1, Time: 1, Value: 10},         // kept (first)
		{Series: 0, Field: 1, Time: 2, Value: 10.2},       // deadband
		{Series: 0, Field: 1, Time: 3, Value: -1},         // filtered
		{Series: 0, Field: 1, Time: 4, Value: 11},         // kept
		{Series: 0, Field: 1, Time: 60, Value: 11.1},      // MaxGap passed: kept
		{Series: 1, Field: 1, Time: 4, Value: 11},         // other series: own state
		{Series: 1, Field: 1, Time: 4, Value: 11},         // duplicate
		{Series: 1, Field: 1, Time: 1, Value: 11},         // earlier time, not a duplicate; in deadband
	}
	sh.Process(in, 0)
	sh.Flush()
	st := sh.Stats()
	if st.SamplesIn != 13 || st.Deduped != 2 || st.Filtered != 3 || st.Deadbanded != 2 {
		t.Fatalf("stats %+v", st)
	}
	got := map[[2]int]record.Aggregate{}
	for _, a := range rec.aggs {
		got[[2]int{int(a.Series), int(a.Field)}] = a
	}
	if a := got[[2]int{0, 0}]; a.Count != 2 || math.Abs(a.Max-68) > 1e-9 || math.Abs(a.Min+40) > 1e-9 {
		t.Fatalf("series 0 field 0: %+v", a)
	}
	if a := got[[2]int{0, 1}]; a.Count != 3 || math.Abs(a.Sum-32.1) > 1e-9 {
		t.Fatalf("series 0 field 1: %+v", a)
	}
	if a := got[[2]int{1, 1}]; a.Count != 1 {
		t.Fatalf("series 1 field 1: %+v", a)
	}
}

func TestUnitConversion(t *testing.T) {
	f := func(from, to string, in, want float64) {
		t.Helper()
		s, o, err := UnitConversion(from, to)
		if err != nil {
			t.Fatal(err)
		}
		if got := in*s + o; math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Fatalf("%v %s = %v %s, want %v", in, from, got, to, want)
		}
	}
	f("c", "f", 100, 212)
	f("F", "C", 32, 0)
	f("k", "c", 0, -273.15)
	f("f", "k", 32, 273.15)
	f("hPa", "Pa", 1013.25, 101325)
	f("psi", "kpa", 1, 6.894757293168361)
	f("km/h", "m/s", 36, 10)
	f("kWh", "J", 1, 3.6e6)
	f("%", "ratio", 50, 0.5)
	if _, _, err := UnitConversion("c", "pa"); err == nil {
		t.Fatal("want a dimension error")
	}
	if _, _, err := UnitConversion("furlong", "m"); err == nil {
		t.Fatal("want an unknown unit error")
	}
}

func TestRefusalsAreCounted(t *testing.T) {
	c := Config{Kind: record.Tumbling, Size: 10, OutOfOrder: 1000, MaxSeries: 2, Fields: 1, Sources: 1, MaxOpenWindows: 2, StateBudget: 3}
	sh, rec := newTestShard(t, c)
	sh.Process([]record.Sample{
		{Series: 2, Time: 1},            // series limit
		{Series: 0, Field: 1, Time: 1},  // field limit
		{Series: 0, Source: 1, Time: 1}, // unknown source
		{Series: 0, Time: 1, Value: 1},  // [0,10)
		{Series: 0, Time: 15, Value: 1}, // [10,20)
		{Series: 0, Time: 25, Value: 1}, // [20,30): MaxOpenWindows (2) of series 0
		{Series: 1, Time: 1, Value: 1},  // [0,10) of series 1: the pool's last slot
		{Series: 1, Time: 15, Value: 1}, // StateBudget (3) exhausted
	}, 0)
	st := sh.Stats()
	if st.RefusedSeries != 1 || st.RefusedField != 1 || st.RefusedSource != 1 || st.RefusedWindows != 2 || st.OpenSlots != 3 {
		t.Fatalf("stats %+v", st)
	}
	sh.Flush()
	if len(rec.aggs) != 3 {
		t.Fatalf("aggs %v", rec.aggs)
	}
	c = Config{Kind: record.Session, Gap: 5, OutOfOrder: 1000, MaxSeries: 1, MaxOpenWindows: 2}
	sh, _ = newTestShard(t, c)
	sh.Process([]record.Sample{{Time: 100}, {Time: 90}, {Time: 80}}, 0)
	if st := sh.Stats(); st.RefusedWindows != 1 || st.OpenSlots != 2 {
		t.Fatalf("session stats %+v", st)
	}
}

func TestQuantilesThroughShard(t *testing.T) {
	for _, kind := range []record.WindowKind{record.Tumbling, record.Hopping, record.Session} {
		c := Config{Kind: kind, Size: 1000, Advance: 500, Gap: 10, MaxSeries: 1,
			Aggregates: Count | Variance | Stddev, Quantiles: []float64{0.5, 0.99}}
		sh, rec := newTestShard(t, c)
		var batch []record.Sample
		for i := range 1000 {
			batch = append(batch, record.Sample{Time: 2000 + int64(i), Value: float64(i + 1), Seq: uint64(i)})
		}
		sh.Process(batch, 0)
		sh.Flush()
		var a *record.Aggregate
		for i := range rec.aggs {
			if rec.aggs[i].Start == 2000 && rec.aggs[i].Count == 1000 {
				a = &rec.aggs[i]
			}
		}
		if a == nil {
			t.Fatalf("%v: no full window in %v", kind, brief(rec.aggs))
		}
		if a.NQ != 2 || a.Q[0] != 0.5 || relErr(a.QV[0], 500) > 0.01 || relErr(a.QV[1], 990) > 0.01 {
			t.Fatalf("%v: quantiles %v %v", kind, a.Q[:a.NQ], a.QV[:a.NQ])
		}
		if relErr(a.Variance(), (1000*1000-1)/12.0) > 1e-12 {
			t.Fatalf("%v: variance %v", kind, a.Variance())
		}
	}
}

func TestSketchBudgetExhausted(t *testing.T) {
	c := Config{Kind: record.Tumbling, Size: 10, MaxSeries: 3, Quantiles: []float64{0.5}, SketchBudget: 2}
	sh, rec := newTestShard(t, c)
	// Each window's values span more buckets than a sparseSketch holds,
	// so each needs a dense sketch; the pool has two.
	wide := func(series uint32, t0 int64) []record.Sample {
		var b []record.Sample
		for j := range sparseBins + 2 {
			b = append(b, record.Sample{Series: series, Time: t0, Value: float64(int64(1) << j), Seq: uint64(j)})
		}
		return b
	}
	var b []record.Sample
	for series := range uint32(3) {
		b = append(b, wide(series, 1)...)
	}
	sh.Process(b, 0)
	sh.Flush()
	if st := sh.Stats(); st.SketchRefused != 1 {
		t.Fatalf("stats %+v", st)
	}
	nq := 0
	for _, a := range rec.aggs {
		nq += int(a.NQ)
	}
	if len(rec.aggs) != 3 || nq != 2 {
		t.Fatalf("aggs %v", rec.aggs)
	}
	// Sketches return to the pool when windows purge.
	sh.Process(wide(2, 21), 0)
	sh.Flush()
	if a := rec.aggs[len(rec.aggs)-1]; a.NQ != 1 {
		t.Fatalf("sketch not recycled: %+v", a)
	}
	// A window within sparseBins buckets needs no dense sketch at all.
	sh.Process([]record.Sample{{Series: 0, Time: 41, Value: 1}, {Series: 1, Time: 41, Value: 2}, {Series: 2, Time: 41, Value: 3}}, 0)
	sh.Flush()
	if st := sh.Stats(); st.SketchRefused != 1 {
		t.Fatalf("sparse windows refused: %+v", st)
	}
	for _, a := range rec.aggs[len(rec.aggs)-3:] {
		if a.NQ != 1 {
			t.Fatalf("sparse window without its quantile: %+v", a)
		}
	}
}

// Counter rate through hopping panes and a reset.
func TestRateThroughHoppingPanes(t *testing.T) {
	c := Config{Kind: record.Hopping, Size: 4000, Advance: 1000, MaxSeries: 1, Aggregates: Count | Rate}
	sh, rec := newTestShard(t, c)
	vals := []float64{100, 110, 130, 5, 15, 35} // reset after 130
	var b []record.Sample
	for i, v := range vals {
		b = append(b, record.Sample{Time: 10_000 + int64(i)*500, Value: v, Seq: uint64(i)})
	}
	sh.Process(b, 0)
	sh.Flush()
	for _, a := range rec.aggs {
		if a.Start == 10_000 { // all six readings, 2500 ms
			if a.Increase != 10+20+5+10+20 || relErr(a.Rate, 65/2.5) > 1e-12 {
				t.Fatalf("%+v", a)
			}
			return
		}
	}
	t.Fatalf("no window at 10000: %v", brief(rec.aggs))
}

func TestSessionLateMergeRefires(t *testing.T) {
	// Gap 5, B 0, L 20, update: a late event bridges two fired sessions.
	c := Config{Kind: record.Session, Gap: 5, AllowedLateness: 20, MaxSeries: 1, Aggregates: Count | Sum}
	runSteps(t, c, 0, []step{
		{t: 10, v: 1},
		{t: 18, v: 2, want: []string{"[10,15) count 1 sum 1 rev 0 late 0"}},
		{t: 30, v: 4, want: []string{"[18,23) count 1 sum 2 rev 0 late 0"}},
		// [14,19) touches both: merged [10,23), behind the WM (29): re-fire
		// under id(10), and retract id(18) in the same firing.
		{t: 14, v: 8, want: []string{"[18,23) retracted rev 1", "[10,23) count 3 sum 11 rev 1 late 1"}},
		{t: 40, v: 0, want: []string{"[30,35) count 1 sum 4 rev 0 late 0"}},
	})
}

// One reading from a sensor with a wild clock must not drag the watermark
// into the future.
func TestMaxFutureGuard(t *testing.T) {
	c := Config{Kind: record.Tumbling, Size: 10, MaxSeries: 1, MaxFuture: 60_000}
	sh, rec := newTestShard(t, c)
	now := int64(1_700_000_000_000)
	sh.Process([]record.Sample{
		{Time: now - 5, Value: 1},
		{Time: now + 10*365*86_400_000, Value: 2}, // ten years ahead: refused
		{Time: 1<<62 + 1, Value: 3},               // out of range: refused
		{Time: now - 3, Value: 4},
	}, now)
	st := sh.Stats()
	if st.RefusedTime != 2 || st.Late != 0 || st.Watermark != now-4 {
		t.Fatalf("stats %+v", st)
	}
	sh.Flush()
	if len(rec.aggs) != 1 || rec.aggs[0].Count != 2 {
		t.Fatalf("%v", rec.aggs)
	}
}

// Readings a deadband suppresses still advance the watermark: a flat
// sensor closes its windows.
func TestSuppressedReadingsAdvanceWatermark(t *testing.T) {
	c := Config{Kind: record.Tumbling, Size: 10, MaxSeries: 1, Deadbands: []Deadband{{Field: AllFields, Threshold: 1}}}
	sh, rec := newTestShard(t, c)
	var b []record.Sample
	for i := range 25 {
		b = append(b, record.Sample{Time: int64(i), Value: 20})
	}
	sh.Process(b, 0)
	if st := sh.Stats(); st.Deadbanded != 24 || st.Watermark != 23 || len(rec.aggs) != 1 || rec.aggs[0].Count != 1 {
		t.Fatalf("stats %+v aggs %v", st, rec.aggs)
	}
}
