package operators

import (
	"fmt"
	"strings"
	"testing"

	"github.com/edgeplane/edgeplane/record"
)

// recorder is an Emitter that keeps copies of everything.
type recorder struct {
	aggs []record.Aggregate
	late []record.Sample
}

func (r *recorder) Emit(a *record.Aggregate) { r.aggs = append(r.aggs, *a) }
func (r *recorder) Late(s *record.Sample)    { r.late = append(r.late, *s) }

func (r *recorder) take() (aggs []record.Aggregate, late []record.Sample) {
	aggs, late = r.aggs, r.late
	r.aggs, r.late = nil, nil
	return aggs, late
}

// short renders an emission as in WINDOWS.md, relative to base:
// "[0,10) count 2 sum 30 rev 0 late 0 final".
func short(a *record.Aggregate, base int64) string {
	if a.Flags&record.AggRetracted != 0 {
		return fmt.Sprintf("[%d,%d) retracted rev %d", a.Start-base, a.End-base, a.Revision)
	}
	s := fmt.Sprintf("[%d,%d) count %d sum %g rev %d late %d", a.Start-base, a.End-base, a.Count, a.Sum, a.Revision, a.Late)
	if a.Flags&record.AggFinal != 0 {
		s += " final"
	}
	return s
}

type step struct {
	t, v int64
	want []string // emissions after this sample, in order
	late bool     // the sample goes to the late output
	wm   int64    // watermark after, relative to base (checked when != 0 or wmSet)
}

// runSteps feeds one sample per batch and checks each step's emissions,
// first in SeriesScope (the table has one series, so its watermark is the
// pipeline's), then in c's own scope, whose shard it returns.
func runSteps(t *testing.T, c Config, base int64, steps []step) (*Shard, *recorder) {
	t.Helper()
	if c.Watermark != SeriesScope && c.TimeMode == EventTime {
		sc := c
		sc.Watermark = SeriesScope
		if sc.IdleTimeout == 0 {
			sc.IdleTimeout = 1 << 40 // the wall clock stays at 0: never idle
		}
		t.Run("series", func(t *testing.T) { runSteps(t, sc, base, steps) })
	}
	rec := &recorder{}
	c.MaxSeries = 4
	sh, err := NewShard(&c, NewWatermarks(&c), rec)
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range steps {
		sh.Process([]record.Sample{{Series: 1, Time: base + st.t, Value: float64(st.v), Seq: uint64(i)}}, 0)
		aggs, late := rec.take()
		var got []string
		for j := range aggs {
			got = append(got, short(&aggs[j], base))
		}
		if g, w := strings.Join(got, "; "), strings.Join(st.want, "; "); g != w {
			t.Errorf("row %d (t=%d): emitted\n  %q\nwant\n  %q", i+1, st.t, g, w)
		}
		if (len(late) == 1) != st.late || len(late) > 1 {
			t.Errorf("row %d (t=%d): late output %v, want late=%v", i+1, st.t, late, st.late)
		}
		if st.wm != 0 {
			if got := sh.Watermark() - base; got != st.wm {
				t.Errorf("row %d (t=%d): watermark %d, want %d", i+1, st.t, got, st.wm)
			}
		}
	}
	return sh, rec
}

// Table A of WINDOWS.md: tumbling, size 10, B = 2, L = 5.
func TestTableATumblingUpdate(t *testing.T) {
	c := Config{Kind: record.Tumbling, Size: 10, OutOfOrder: 2, AllowedLateness: 5, Mode: Update}
	sh, _ := runSteps(t, c, 0, []step{
		{t: 1, v: 10, wm: -2},
		{t: 4, v: 20, wm: 1},
		{t: 12, v: 5, wm: 9, want: []string{"[0,10) count 2 sum 30 rev 0 late 0"}},
		{t: 8, v: 7, wm: 9, want: []string{"[0,10) count 3 sum 37 rev 1 late 1"}},
		{t: 18, v: 1, wm: 15},
		{t: 3, v: 100, wm: 15, late: true},
		{t: 25, v: 2, wm: 22, want: []string{"[10,20) count 2 sum 6 rev 0 late 0"}},
		{t: 19, v: 4, wm: 22, want: []string{"[10,20) count 3 sum 10 rev 1 late 1"}},
	})
	st := sh.Stats()
	if st.Late != 1 || st.LateAccepted != 2 || st.Emitted != 4 || st.Refired != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestTableATumblingFinal(t *testing.T) {
	c := Config{Kind: record.Tumbling, Size: 10, OutOfOrder: 2, AllowedLateness: 5, Mode: Final}
	sh, rec := runSteps(t, c, 0, []step{
		{t: 1, v: 10},
		{t: 4, v: 20},
		{t: 12, v: 5},
		{t: 8, v: 7},
		// WM reaches 15 >= 14: [0,10) emitted once, at purge.
		{t: 18, v: 1, wm: 15, want: []string{"[0,10) count 3 sum 37 rev 0 late 1 final"}},
		{t: 3, v: 100, late: true},
		{t: 25, v: 2, wm: 22},
		{t: 19, v: 4, wm: 22},
		// Beyond the table: WM reaches 24 (t = 27 → WM 24).
		{t: 27, v: 0, wm: 24, want: []string{"[10,20) count 3 sum 10 rev 0 late 1 final"}},
	})
	sh.Flush()
	aggs, _ := rec.take()
	if len(aggs) != 1 || short(&aggs[0], 0) != "[20,30) count 2 sum 2 rev 0 late 0 final" {
		t.Fatalf("flush emitted %v", aggs)
	}
	if st := sh.Stats(); st.Late != 1 || st.OpenSlots != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// Table B: hopping, size 10, advance 5, B = 3, L = 0, final mode, as
// written: rule 3 has no clamp at the epoch, so row 1 also opens [−5,5),
// which fires at row 3 (WM 8 >= 4) with t=1 alone, as WINDOWS.md says.
func TestTableBHopping(t *testing.T) {
	c := Config{Kind: record.Hopping, Size: 10, Advance: 5, OutOfOrder: 3, Mode: Final}
	runSteps(t, c, 0, tableB([]string{"[-5,5) count 1 sum 1 rev 0 late 0 final"}))
}

// Table B far from 0, as WINDOWS.md suggests: there the window [−5,5)
// (relative) exists in Kafka Streams too and fires at row 3
// with t=1 alone (t=4 arrives after it closed, and [0,10) takes it). The
// rest of the table is unchanged.
func TestTableBHoppingFarFromEpoch(t *testing.T) {
	const base = 1_700_000_000_000
	c := Config{Kind: record.Hopping, Size: 10, Advance: 5, OutOfOrder: 3, Mode: Final}
	runSteps(t, c, base, tableB([]string{"[-5,5) count 1 sum 1 rev 0 late 0 final"}))
}

func tableB(row3 []string) []step {
	return []step{
		{t: 1, v: 1},
		{t: 6, v: 2},
		{t: 12, v: 3, want: row3},
		{t: 4, v: 4},
		{t: 14, v: 5, want: []string{"[0,10) count 3 sum 7 rev 0 late 0 final"}},
		{t: 9, v: 6},
		{t: 20, v: 7, want: []string{"[5,15) count 4 sum 16 rev 0 late 0 final"}},
		{t: 30, v: 8, want: []string{"[10,20) count 2 sum 8 rev 0 late 0 final", "[15,25) count 1 sum 7 rev 0 late 0 final"}},
	}
}

// Table C: session, gap 5, B = 5, L = 0 (update mode; with L = 0 the one
// firing is also the purge, hence final).
func TestTableCSession(t *testing.T) {
	for _, mode := range []EmitMode{Update, Final} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			c := Config{Kind: record.Session, Gap: 5, OutOfOrder: 5, Mode: mode, Aggregates: Count | Sum}
			runSteps(t, c, 0, []step{
				{t: 10, v: 1, wm: 4},
				{t: 12, v: 1, wm: 6},
				{t: 20, v: 1, wm: 14},
				{t: 16, v: 1, wm: 14},
				{t: 31, v: 1, wm: 25, want: []string{"[10,25) count 4 sum 4 rev 0 late 0 final"}},
				{t: 33, v: 1, wm: 27},
				{t: 22, v: 1, wm: 27, late: true},
				{t: 45, v: 1, wm: 39, want: []string{"[31,38) count 2 sum 2 rev 0 late 0 final"}},
			})
		})
	}
}

// The hopping table in update mode with lateness: late events re-fire every
// fired window containing them.
func TestHoppingUpdateRefire(t *testing.T) {
	const base = 1_700_000_000_000
	c := Config{Kind: record.Hopping, Size: 10, Advance: 5, OutOfOrder: 0, AllowedLateness: 10, Aggregates: Count | Sum}
	runSteps(t, c, base, []step{
		{t: 1, v: 1},
		{t: 7, v: 2, want: []string{"[-5,5) count 1 sum 1 rev 0 late 0"}},
		{t: 21, v: 4, want: []string{"[0,10) count 2 sum 3 rev 0 late 0 final", "[5,15) count 1 sum 2 rev 0 late 0"}},
		// WM 20: [0,10) fired and purged at once (final); [5,15) (purge 24)
		// and [10,20) accept late events.
		{t: 8, v: 10, want: []string{"[5,15) count 2 sum 12 rev 1 late 1"}},
		{t: 12, v: 100, want: []string{"[5,15) count 3 sum 112 rev 2 late 2", "[10,20) count 1 sum 100 rev 0 late 1"}},
		{t: 3, v: 1000, late: true},
	})
}
