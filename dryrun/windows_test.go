package dryrun_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/dryrun"
)

// The servers-free tier: a YAML configuration and JSON payloads in,
// aggregate JSON out, through the same compile step and operators the
// gateway runs. Each test runs in a synctest bubble, so the arrival clock
// (time.Now) is fake and exact.

// yamlConfig is a one-source, one-pipeline configuration whose pipeline
// has the given window; payloads are {"k": series, "t": ms, "v": value}.
func yamlConfig(t *testing.T, window, extra string) string {
	return fmt.Sprintf(`gateway: {id: gw, data_dir: %s}
kafka: {brokers: ["127.0.0.1:9092"]}
sources:
  - name: s
    mqtt: {broker: "tcp://127.0.0.1:1883", topics: ["t/+"]}
    decode: {key_path: k, time_path: t, time_unit: ms, max_time_skew: 0, max_future: 0, fields: [{name: v}]}
pipelines:
  - name: p
    from: [s]
    window: %s
    aggregates: [count, sum]
    to: {late_topic: late.p}
%s`, t.TempDir(), window, extra)
}

func newRunner(t *testing.T, yml string) *dryrun.Runner {
	t.Helper()
	c, err := config.LoadBytes("test.yaml", []byte(yml), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := config.Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	r, err := dryrun.New(plan, dryrun.Options{Windows: true})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// out is an emitted record, reduced to what the tables state.
type out struct {
	Late   bool
	Series string
	Start  int64
	End    int64
	Count  int64
	Sum    float64
	Rev    int64
	Final  bool
	TS     int64 // late records: the reading's time
}

func (o out) String() string {
	if o.Late {
		return fmt.Sprintf("late %s t=%d", o.Series, o.TS)
	}
	f := ""
	if o.Final {
		f = " final"
	}
	return fmt.Sprintf("%s [%d,%d) count %d sum %g rev %d%s", o.Series, o.Start, o.End, o.Count, o.Sum, o.Rev, f)
}

func parse(t *testing.T, recs []dryrun.Record) []string {
	t.Helper()
	var got []string
	for _, r := range recs {
		var v struct {
			Series   string  `json:"series"`
			Start    int64   `json:"start"`
			End      int64   `json:"end"`
			Count    int64   `json:"count"`
			Sum      float64 `json:"sum"`
			Revision int64   `json:"revision"`
			Final    bool    `json:"final"`
			TS       int64   `json:"ts"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("record %s is not JSON: %v", r.Value, err)
		}
		got = append(got, out{Late: r.Late, Series: v.Series, Start: v.Start, End: v.End, Count: v.Count, Sum: v.Sum,
			Rev: v.Revision, Final: v.Final, TS: v.TS}.String())
	}
	return got
}

// row is one input of a table and what it emits, as out strings.
type row struct {
	series string
	t      int64
	v      float64
	emit   []string
}

// runTable feeds rows in order (topic t/<series>, arrival: the bubble's
// clock), checks what each emits, then flushes and checks the rest.
func runTable(t *testing.T, r *dryrun.Runner, rows []row, atEnd []string) {
	t.Helper()
	for i, rw := range rows {
		payload := fmt.Sprintf(`{"k":%q,"t":%d,"v":%g}`, rw.series, rw.t, rw.v)
		res := r.Feed("t/"+rw.series, []byte(payload), time.Now().UnixMilli())
		if res.Err != nil {
			t.Fatalf("row %d: rejected: %v", i+1, res.Err)
		}
		if got := parse(t, r.Records()); strings.Join(got, "; ") != strings.Join(rw.emit, "; ") {
			t.Errorf("row %d (t=%d): emitted\n  %s\nwant\n  %s", i+1, rw.t, strings.Join(got, "; "), strings.Join(rw.emit, "; "))
		}
	}
	r.Flush()
	if got := parse(t, r.Records()); strings.Join(got, "; ") != strings.Join(atEnd, "; ") {
		t.Errorf("at the end: emitted\n  %s\nwant\n  %s", strings.Join(got, "; "), strings.Join(atEnd, "; "))
	}
}

// TestTableA: WINDOWS.md table A — tumbling 10, B = 2, L = 5, update mode,
// late output on.
func TestTableA(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRunner(t, yamlConfig(t, "{size: 10ms, out_of_orderness: 2ms, allowed_lateness: 5ms}", ""))
		runTable(t, r, []row{
			{"x", 1, 10, nil},
			{"x", 4, 20, nil},
			{"x", 12, 5, []string{"x [0,10) count 2 sum 30 rev 0"}},
			{"x", 8, 7, []string{"x [0,10) count 3 sum 37 rev 1"}},
			{"x", 18, 1, nil},
			{"x", 3, 100, []string{"late x t=3"}},
			{"x", 25, 2, []string{"x [10,20) count 2 sum 6 rev 0"}},
			{"x", 19, 4, []string{"x [10,20) count 3 sum 10 rev 1"}},
			// The end of the input is a graceful stop: [10,20), still
			// inside its lateness, and the open [20,30) fire as final.
		}, []string{"x [10,20) count 3 sum 10 rev 2 final", "x [20,30) count 1 sum 2 rev 0 final"})
	})
}

// TestTableAFinal: table A in final mode: each window once, at purge.
func TestTableAFinal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRunner(t, yamlConfig(t, "{size: 10ms, out_of_orderness: 2ms, allowed_lateness: 5ms, emit: final}", ""))
		runTable(t, r, []row{
			{"x", 1, 10, nil},
			{"x", 4, 20, nil},
			{"x", 12, 5, nil},
			{"x", 8, 7, nil},
			{"x", 18, 1, []string{"x [0,10) count 3 sum 37 rev 0 final"}},
			{"x", 3, 100, []string{"late x t=3"}},
			{"x", 25, 2, nil},
			{"x", 19, 4, nil},
		}, []string{"x [10,20) count 3 sum 10 rev 0 final", "x [20,30) count 1 sum 2 rev 0 final"})
	})
}

// TestTableB: WINDOWS.md table B — hopping 10/5, B = 3, L = 0, final mode,
// shifted by 10^12 so that Kafka Streams' clamp at 0 plays no part.
func TestTableB(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRunner(t, yamlConfig(t, "{type: hopping, size: 10ms, advance: 5ms, out_of_orderness: 3ms, emit: final}", ""))
		const z = 1_000_000_000_000
		w := func(s, e int64, n int64, sum float64) string {
			return out{Series: "x", Start: z + s, End: z + e, Count: n, Sum: sum, Final: true}.String()
		}
		runTable(t, r, []row{
			{"x", z + 1, 1, nil}, // opens [z-5,z+5) and [z,z+10) (rule 3)
			{"x", z + 6, 2, nil},
			{"x", z + 12, 3, []string{w(-5, 5, 1, 1)}},
			{"x", z + 4, 4, nil},
			{"x", z + 14, 5, []string{w(0, 10, 3, 7)}},
			{"x", z + 9, 6, nil},
			{"x", z + 20, 7, []string{w(5, 15, 4, 16)}},
			{"x", z + 30, 8, []string{w(10, 20, 2, 8), w(15, 25, 1, 7)}},
		}, []string{w(20, 30, 1, 7), w(25, 35, 1, 8), w(30, 40, 1, 8)})
	})
}

// TestTableC: WINDOWS.md table C — session gap 5, B = 5, L = 0. With no
// lateness a window's state is purged when it fires, so every emission is
// its final one.
func TestTableC(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRunner(t, yamlConfig(t, "{type: session, gap: 5ms, out_of_orderness: 5ms}", ""))
		runTable(t, r, []row{
			{"x", 10, 1, nil},
			{"x", 12, 1, nil},
			{"x", 20, 1, nil},
			{"x", 16, 1, nil},
			{"x", 31, 1, []string{"x [10,25) count 4 sum 4 rev 0 final"}},
			{"x", 33, 1, nil},
			{"x", 22, 1, []string{"late x t=22"}},
			{"x", 45, 1, []string{"x [31,38) count 2 sum 2 rev 0 final"}},
		}, []string{"x [45,50) count 1 sum 1 rev 0 final"})
	})
}

// TestIdleFallbackUnderSynctest: a series that goes quiet still gets its
// window closed by the wall-clock fallback, idle_timeout after its last
// reading — driven here by the bubble's fake clock.
func TestIdleFallbackUnderSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRunner(t, yamlConfig(t, "{size: 10s, out_of_orderness: 2s, idle_timeout: 30s}", ""))
		start := time.Now().UnixMilli()
		res := r.Feed("t/x", []byte(fmt.Sprintf(`{"k":"x","t":%d,"v":3}`, start)), start)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		time.Sleep(29 * time.Second)
		r.Advance(time.Now().UnixMilli())
		if got := r.Records(); len(got) != 0 {
			t.Fatalf("fired before the source went idle: %s", got[0].Value)
		}
		time.Sleep(45 * time.Second) // idle 30 s, then the clock runs on past the window's end + B
		r.Advance(time.Now().UnixMilli())
		got := parse(t, r.Records())
		ws := start - start%10_000
		if want := (out{Series: "x", Start: ws, End: ws + 10_000, Count: 1, Sum: 3, Final: true}).String(); len(got) != 1 || got[0] != want {
			t.Fatalf("after idle: %v, want %s", got, want)
		}
	})
}

// TestOutOfOrdernessZero: B = 0 is a bound, not "unset" (issue 15, bug
// 1): tumbling 10 s, out_of_orderness 0s, L = 0; readings at T0,
// T0+10000, T0+9999: [T0, T0+10000) fires with count 1 and T0+9999 is
// late (with the old default of 5 s it was counted, count 2).
func TestOutOfOrdernessZero(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRunner(t, yamlConfig(t, "{size: 10s, out_of_orderness: 0s}", ""))
		const t0 = 1_763_683_200_000
		runTable(t, r, []row{
			{"x", t0, 1, nil},
			{"x", t0 + 10_000, 2, []string{out{Series: "x", Start: t0, End: t0 + 10_000, Count: 1, Sum: 1, Final: true}.String()}},
			{"x", t0 + 9_999, 3, []string{out{Late: true, Series: "x", TS: t0 + 9_999}.String()}},
		}, []string{out{Series: "x", Start: t0 + 10_000, End: t0 + 20_000, Count: 1, Sum: 2, Final: true}.String()})
	})
}
