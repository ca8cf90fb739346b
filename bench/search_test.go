package bench

import (
	"strconv"
	"strings"
	"testing"
)

// TestSearchRateSaysWhyItStopped: the rate search against a model of the
// system — edgeplane keeps up to capacity, the generator offers up to gen
// — stops for the right reason and says it.
func TestSearchRateSaysWhyItStopped(t *testing.T) {
	model := func(capacity, gen float64, probed *[]float64) func(float64) (*PhaseReport, error) {
		return func(rate float64) (*PhaseReport, error) {
			*probed = append(*probed, rate)
			ach := min(rate, gen)
			ph := &PhaseReport{Offered: rate, Achieved: ach, Sustained: ach <= capacity}
			ph.GeneratorBound = ach < 0.97*rate
			return ph, nil
		}
	}
	cases := []struct {
		name           string
		spec           StepSpec
		capacity, gen  float64
		baseline       float64
		limit, detail  string
		probed, reason string
	}{
		{name: "edgeplane", spec: StepSpec{Start: 10_000, Factor: 2, MaxSteps: 8, Refine: 1}, capacity: 50_000, gen: 1e9,
			limit: LimitEdgeplane, detail: "40,000 msg/s was sustained and 60,000 msg/s was not", probed: "10000 20000 40000 80000 60000"},
		{name: "broker", spec: StepSpec{Start: 10_000, Factor: 2, MaxSteps: 8}, capacity: 50_000, gen: 1e9, baseline: 60_000,
			limit: LimitBroker, detail: "bare subscriber received at most 60,000", probed: "10000 20000 40000 80000"},
		{name: "generator", spec: StepSpec{Start: 10_000, Factor: 2, MaxSteps: 8}, capacity: 1e9, gen: 100_000,
			limit: LimitGenerator, detail: "could not offer 160,000 msg/s", probed: "10000 20000 40000 80000 160000"},
		{name: "step cap", spec: StepSpec{Start: 10_000, Factor: 2, MaxSteps: 3}, capacity: 1e9, gen: 1e9,
			limit: LimitStepCap, detail: "no limit found", probed: "10000 20000 40000"},
		{name: "max rate", spec: StepSpec{Start: 10_000, Factor: 2, MaxSteps: 8, MaxRate: 50_000}, capacity: 1e9, gen: 1e9,
			limit: LimitMaxRate, detail: "max_rate 50,000", probed: "10000 20000 40000"},
		{name: "nothing", spec: StepSpec{Start: 10_000, Factor: 2, MaxSteps: 3}, capacity: 1_000, gen: 1e9,
			limit: LimitNone, detail: "down to 2,500", probed: "10000 5000 2500"},
		{name: "rates", spec: StepSpec{Rates: []float64{25_000, 75_000, 150_000}, Factor: 2, Refine: 1}, capacity: 100_000, gen: 1e9,
			limit: LimitEdgeplane, detail: "75,000 msg/s was sustained and 112,500 msg/s was not", probed: "25000 75000 150000 112500"},
		{name: "rates all", spec: StepSpec{Rates: []float64{25_000, 75_000}, Factor: 2, MaxSteps: 1}, capacity: 1e9, gen: 1e9,
			limit: LimitStepCap, detail: "every one of the 2 steps", probed: "25000 75000"},
	}
	for _, c := range cases {
		var probed []float64
		limit, detail, err := searchRate(&c.spec, c.baseline, model(c.capacity, c.gen, &probed))
		if err != nil {
			t.Fatal(err)
		}
		var ps []string
		for _, p := range probed {
			ps = append(ps, strconv.FormatFloat(p, 'f', -1, 64))
		}
		if limit != c.limit || !strings.Contains(detail, c.detail) || strings.Join(ps, " ") != c.probed {
			t.Errorf("%s: limit %q (%s), probed %v; want %q containing %q, probed %s", c.name, limit, detail, ps, c.limit, c.detail, c.probed)
		}
	}
}
