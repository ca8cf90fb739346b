package operators

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/edgeplane/edgeplane/record"
)

func TestParseAggregates(t *testing.T) {
	f := func(names []string, want AggSet, wantQ []float64, wantErr string) {
		t.Helper()
		got, q, err := ParseAggregates(names)
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Fatalf("%v: error %v, want %q", names, err, wantErr)
			}
			return
		}
		if err != nil {
			t.Fatalf("%v: %v", names, err)
		}
		if got != want || !slices.Equal(q, wantQ) {
			t.Fatalf("%v: %v %v, want %v %v", names, got, q, want, wantQ)
		}
	}
	f([]string{"count", "sum", "min", "max", "mean"}, DefaultAggregates, nil, "")
	f([]string{"first", "last", "variance", "stddev", "rate"}, First|Last|Variance|Stddev|Rate, nil, "")
	f([]string{" AVG ", "p50", "p95", "p99", "p999", "p99.9", "p5", "p100", "median"}, Mean|Quantiles,
		[]float64{0.5, 0.95, 0.99, 0.999, 0.05, 1}, "")
	f([]string{"count", "bogus", "p12x", "px"}, 0, nil, `"bogus"`)
	_, _, err := ParseAggregates([]string{"bogus", "p12x", "px"})
	if n := strings.Count(err.Error(), "unknown aggregate"); n != 3 {
		t.Fatalf("want every problem reported, got %v", err)
	}
	f([]string{"p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"}, 0, nil, "at most 8")
}

func TestValidate(t *testing.T) {
	f := func(c Config, want ...string) {
		t.Helper()
		err := c.Validate()
		if len(want) == 0 {
			if err != nil {
				t.Fatalf("%+v: %v", c, err)
			}
			return
		}
		if err == nil {
			t.Fatalf("%+v: no error, want %q", c, want)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Fatalf("error %q does not mention %q", err, w)
			}
		}
	}
	f(Config{Kind: record.Tumbling, Size: 60_000, MaxSeries: 10})
	f(Config{Kind: record.Hopping, Size: 60_000, Advance: 15_000, MaxSeries: 10, Quantiles: []float64{0.5}})
	f(Config{Kind: record.Session, Gap: 30_000, MaxSeries: 10})
	// Every problem at once, each naming its option.
	f(Config{Kind: record.Tumbling, OutOfOrder: -1, AllowedLateness: -2, IdleTimeout: -3, SketchAlpha: 2, Sources: 300},
		"size: 0s", "out_of_order", "allowed_lateness", "idle_timeout", "sketch_alpha", "max_series", "sources")
	f(Config{Kind: record.Hopping, Size: 10, Advance: 20, MaxSeries: 1}, "advance: 20ms, want 0 < advance <= size")
	f(Config{Kind: record.Hopping, Size: 100_000, Advance: 7, MaxSeries: 1}, "panes per window")
	f(Config{Kind: record.Tumbling, Size: 10, Offset: 10, MaxSeries: 1}, "offset: 10ms, want -10ms < offset < 10ms")
	f(Config{Kind: record.Session, MaxSeries: 1}, "gap: 0s, want > 0")
	f(Config{Kind: 7, MaxSeries: 1}, "kind: 7")
	f(Config{Kind: record.Tumbling, Size: 10, MaxSeries: 1, Aggregates: Quantiles}, "needs at least one quantile")
	f(Config{Kind: record.Tumbling, Size: 10, MaxSeries: 1, Quantiles: []float64{1.5}}, "outside [0, 1]")
	f(Config{Kind: record.Tumbling, Size: 10, MaxSeries: 1, Fields: 2,
		Filters:   []Filter{{Field: 2}, {Field: 0, Op: InRange, Min: 5, Max: 1}},
		Maps:      []FieldMap{{Field: -5, Scale: 1}},
		Deadbands: []Deadband{{Field: 0, Threshold: -1}}},
		"filters[0].field", "filters[1].min: min", "maps[0].field", "deadbands[0].threshold")
}

func TestDefaults(t *testing.T) {
	c := Config{Kind: record.Hopping, Size: 60, Advance: 15, AllowedLateness: 30, OutOfOrder: 10, MaxSeries: 100, Fields: 2, Shards: 4}
	d := c.withDefaults()
	if d.Aggregates != DefaultAggregates || d.SketchAlpha != 0.01 || d.Sources != 1 {
		t.Fatalf("%+v", d)
	}
	// panes of 15: (60+10+30)/15 + 2 = 8 < 16
	if d.MaxOpenWindows != 16 {
		t.Fatalf("max open windows %d", d.MaxOpenWindows)
	}
	// 25 series × 2 fields × ceil(100/15)+1 = 8 panes, + 1/8 + 64
	if want := 25*2*8 + 25*2*8/8 + 64; d.StateBudget != want {
		t.Fatalf("state budget %d, want %d", d.StateBudget, want)
	}
	if d.SketchBudget != 0 {
		t.Fatalf("sketches without quantiles: %d", d.SketchBudget)
	}
	c.Quantiles = []float64{0.99}
	c.MaxSketchMemory = 40 * sketchBytes // for 4 shards
	if d := c.withDefaults(); d.SketchBudget != 10 || d.Aggregates&Quantiles == 0 {
		t.Fatalf("sketch budget %d", d.SketchBudget)
	}
}

// TestValidateOptionNames: every problem is a record.OptionError naming
// its option, so that config can point at the YAML it came from.
func TestValidateOptionNames(t *testing.T) {
	c := Config{Kind: record.Hopping, Size: 10_000, Advance: 2_000, Offset: 5_000, MaxSeries: 1}
	var list record.OptionErrors
	if !errors.As(c.Validate(), &list) || len(list) != 1 || list[0].Option != "offset" ||
		list[0].Msg != "5s, want -2s < offset < 2s (the advance)" {
		t.Fatalf("Validate = %v", c.Validate())
	}
	c = Config{Kind: record.Hopping, Size: 86_400_000, Advance: 1, MaxSeries: 1}
	if !errors.As(c.Validate(), &list) || len(list) != 1 || list[0].Option != "advance" ||
		!strings.Contains(list[0].Msg, "86400000 panes per window, want at most 4096") {
		t.Fatalf("Validate = %v", c.Validate())
	}
}

// TestRelease: the release watermark of held acks is the end − 1 of an
// event's last window (+ L in final mode), before 1970 too.
func TestRelease(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		t    int64
		want int64
	}{
		{Config{Kind: record.Tumbling, Size: 10}, 3, 9},
		{Config{Kind: record.Tumbling, Size: 10}, -3, -1},
		{Config{Kind: record.Tumbling, Size: 10, Offset: 2}, 1, 1},
		{Config{Kind: record.Hopping, Size: 10, Advance: 5}, 6, 14},
		{Config{Kind: record.Hopping, Size: 10, Advance: 5, AllowedLateness: 7, Mode: Final}, 6, 21},
		{Config{Kind: record.Tumbling, Size: 10, AllowedLateness: 7}, 3, 9},
	} {
		if got := tc.c.Release(tc.t); got != tc.want {
			t.Errorf("%s: Release(%d) = %d, want %d", tc.c.Spec(), tc.t, got, tc.want)
		}
	}
}
