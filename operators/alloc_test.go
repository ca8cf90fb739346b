package operators

import (
	"testing"

	"github.com/edgeplane/edgeplane/record"
)

// countEmitter keeps only counts and the last result: it allocates nothing.
type countEmitter struct {
	emitted, late uint64
	last          record.Aggregate
}

func (e *countEmitter) Emit(a *record.Aggregate) { e.emitted++; e.last = *a }
func (e *countEmitter) Late(*record.Sample)      { e.late++ }

// allocConfigs are the steady-state shapes measured for zero allocations:
// every window kind, both modes, with lateness, the full aggregate set and
// quantiles, and the stateless chain.
// allocConfigs are the configurations the allocation tests run, each in
// pipeline scope and (name + "/series") in series scope, whose short idle
// timeout makes the wall-clock fallback run too.
func allocConfigs() map[string]Config {
	m := pipelineAllocConfigs()
	for name, c := range pipelineAllocConfigs() {
		c.Watermark, c.IdleTimeout = SeriesScope, 50
		m[name+"/series"] = c
	}
	return m
}

func pipelineAllocConfigs() map[string]Config {
	all := Count | Sum | Min | Max | Mean | First | Last | Variance | Stddev | Rate
	return map[string]Config{
		"tumbling":       {Kind: record.Tumbling, Size: 100, OutOfOrder: 20, AllowedLateness: 50},
		"tumbling/final": {Kind: record.Tumbling, Size: 100, OutOfOrder: 20, AllowedLateness: 50, Mode: Final, Aggregates: all},
		"tumbling/quantiles": {Kind: record.Tumbling, Size: 100, OutOfOrder: 20, AllowedLateness: 50, Aggregates: all,
			Quantiles: []float64{0.5, 0.95, 0.99}},
		"hopping":       {Kind: record.Hopping, Size: 100, Advance: 25, OutOfOrder: 20, AllowedLateness: 50, Aggregates: all},
		"hopping/final": {Kind: record.Hopping, Size: 100, Advance: 25, OutOfOrder: 20, Mode: Final, Quantiles: []float64{0.5}},
		"session":       {Kind: record.Session, Gap: 30, OutOfOrder: 20, AllowedLateness: 50, Aggregates: all},
		"session/final": {Kind: record.Session, Gap: 30, OutOfOrder: 20, Mode: Final, Quantiles: []float64{0.99}},
		"tumbling/chain": {Kind: record.Tumbling, Size: 100, Dedup: true,
			Filters:   []Filter{{Field: AllFields, Op: InRange, Min: -1e6, Max: 1e6}},
			Maps:      []FieldMap{{Field: 0, Scale: 1.8, Offset: 32}},
			Deadbands: []Deadband{{Field: AllFields, Threshold: 0.5, MaxGap: 1000}}},
	}
}

// streamer produces a deterministic stream over nSeries series: time moves
// forward, with out-of-order, late and session-gap events mixed in.
type streamer struct {
	nSeries int
	i       uint64
	batch   []record.Sample
}

func (g *streamer) next(n int) []record.Sample {
	g.batch = g.batch[:0]
	for range n {
		i := g.i
		g.i++
		step := int64(i / uint64(g.nSeries))
		t := 1_700_000_000_000 + step*7 + step/40*100 // a 100 ms pause every 40 steps closes sessions
		switch i % 17 {
		case 3:
			t -= 15 // out of order, accepted
		case 11:
			t -= 120 // behind the watermark: late, or accepted late with L
		}
		g.batch = append(g.batch, record.Sample{
			Series: uint32(i % uint64(g.nSeries)), Time: t, Value: float64(i%100) * 0.75, Seq: i,
		})
	}
	return g.batch
}

// TestSteadyStateNoAllocs: the per-sample path (add to an open window,
// fire, re-fire, purge, late output) allocates nothing, for every kind.
func TestSteadyStateNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip(raceSkipReason)
	}
	for name, c := range allocConfigs() {
		t.Run(name, func(t *testing.T) {
			c.MaxSeries = 64
			em := &countEmitter{}
			sh, err := NewShard(&c, NewWatermarks(&c), em)
			if err != nil {
				t.Fatal(err)
			}
			g := &streamer{nSeries: 64, batch: make([]record.Sample, 0, 64)}
			for range 200 { // warm up: windows open, fire and purge
				sh.Process(g.next(16), 0)
			}
			now := int64(0)
			n := testing.AllocsPerRun(2000, func() {
				now += 10
				sh.Process(g.next(16), now)
				sh.Advance(now)
			})
			if n != 0 {
				t.Fatalf("%v allocs per batch", n)
			}
			st := sh.Stats()
			if st.Emitted == 0 || st.Purged == 0 {
				t.Fatalf("the stream did not exercise firing and purging: %+v", st)
			}
			if st.RefusedWindows != 0 || st.SketchRefused != 0 {
				t.Fatalf("refusals: %+v", st)
			}
			sh.Flush()
			if allocs := testing.AllocsPerRun(10, func() { sh.Flush() }); allocs != 0 {
				t.Fatalf("Flush: %v allocs", allocs)
			}
			t.Logf("%+v", st)
		})
	}
}
