package bench

import (
	"bytes"
	"strings"
	"testing"
)

// TestSweepMarkdown: the sweep's table takes each run's sustained phase,
// and the growth per 1,000 series is the difference between consecutive
// counts divided by the thousands between them.
func TestSweepMarkdown(t *testing.T) {
	rep := func(series int, peak, anon uint64, heap int64) *Report {
		sc, err := Builtin("series")
		if err != nil {
			t.Fatal(err)
		}
		sc.Sensors.Series = series
		return &Report{Scenario: sc, Target: TargetInfo{Mode: ModeSubprocess}, Phases: []PhaseReport{
			{Name: "warm-up", Warmup: true, Sustained: true},
			{Name: "run", Achieved: 10000, Sustained: true,
				Heap:      []HeapShare{{"operators: window state", heap / 2}, {"other (runtime, standard library)", heap / 2}},
				Resources: []ProcReport{{Role: "edgeplane", UsageDelta: UsageDelta{PeakRSS: peak, RSS: peak, AnonRSS: anon, FileRSS: peak - anon, CPUPerMilli: 5}}}},
		}}
	}
	var b bytes.Buffer
	err := NewSweep([]*Report{rep(1000, 40<<20, 20<<20, 10<<20), rep(10000, 58<<20, 38<<20, 19<<20)}).WriteMarkdown(&b)
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"| 1,000 | 10,000 | true | 0 | 40.0 MiB | 40.0 MiB = 20.0 MiB + 20.0 MiB | 10.0 MiB | 5.0 MiB | 5.00 |",
		"1,000 → 10,000 series: peak RSS +2.00 MiB, anonymous RSS +2.00 MiB, live heap +1.00 MiB per 1,000 series",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}
