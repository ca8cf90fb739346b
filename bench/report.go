package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Report is everything one run measured. It is written as JSON (every
// figure) and Markdown (the same, for people), with a chart.
type Report struct {
	Scenario *Scenario       `json:"scenario"`
	Env      Environment     `json:"environment"`
	Target   TargetInfo      `json:"target"`
	Started  time.Time       `json:"started"`
	Seconds  float64         `json:"seconds"`
	Baseline *BaselineResult `json:"baseline,omitempty"`
	Phases   []PhaseReport   `json:"phases"`
	Headline Headline        `json:"headline"`
	// Skipped says why the scenario did not run, when it did not.
	Skipped string   `json:"skipped,omitempty"`
	Notes   []string `json:"notes,omitempty"`
	// Chart is the file name of the chart written beside the report.
	Chart string `json:"chart,omitempty"`
}

// TargetInfo says what was measured and where.
type TargetInfo struct {
	Mode      string   `json:"mode"`
	MQTT      string   `json:"mqtt"`
	WS        string   `json:"ws,omitempty"`
	Kafka     []string `json:"kafka"`
	Topic     string   `json:"topic"`
	Processes []string `json:"processes,omitempty"`
	Notes     []string `json:"notes,omitempty"`
}

// PhaseReport is one publishing phase (a step, or the whole run).
type PhaseReport struct {
	Name string `json:"name"`
	// Offered is the target rate (messages/s, 0 = max); Achieved what
	// the generator published; CountedRate readings counted in
	// aggregates per second of publishing.
	Offered     float64 `json:"offered_rate"`
	Achieved    float64 `json:"achieved_rate"`
	CountedRate float64 `json:"counted_readings_rate"`
	Seconds     float64 `json:"seconds"`
	Messages    uint64  `json:"messages"`
	Frames      uint64  `json:"frames"`
	Readings    uint64  `json:"readings"`

	Reconciliation Reconciliation `json:"reconciliation"`
	Latency        Latency        `json:"latency"`
	Gateway        Counters       `json:"gateway_counters"`
	Resources      []ProcReport   `json:"resources,omitempty"`
	Runtime        *RuntimeStats  `json:"runtime,omitempty"`
	Outage         *OutageResult  `json:"outage,omitempty"`

	// DeliveryLagMaxMs is the largest delay from an aggregate's record
	// timestamp (its emission) to edgebench reading it from Kafka.
	DeliveryLagMaxMs int64 `json:"delivery_lag_max_ms"`

	// Heap is the gateway's live Go heap by component when publishing
	// stopped (subprocess target: HeapByComponent).
	Heap []HeapShare `json:"heap_by_component,omitempty"`

	Settled       bool    `json:"settled"`
	SettleSeconds float64 `json:"settle_seconds"`
	// Warmup phases are reported but not judged for the headline.
	Warmup bool `json:"warmup,omitempty"`
	// Sustained: edgeplane accounted for every reading with bounded
	// processing latency. GeneratorBound: the generator reached less
	// than the offered rate (the host could not offer more).
	Sustained      bool   `json:"sustained"`
	GeneratorBound bool   `json:"generator_bound"`
	Verdict        string `json:"verdict"`
}

// ProcReport is one process's resource use in a phase.
type ProcReport struct {
	Role      string `json:"role"`
	InProcess bool   `json:"in_process"`
	UsageDelta
}

// OutageResult is what a Kafka outage did.
type OutageResult struct {
	At                float64 `json:"at_seconds"`
	For               float64 `json:"for_seconds"`
	PeakBacklogBytes  uint64  `json:"peak_backlog_bytes"`
	PeakBacklogFrames uint64  `json:"peak_backlog_frames"`
}

// Headline is the answer in one table row.
type Headline struct {
	// Phase names the phase the headline is taken from: the highest
	// sustained step, or the run.
	Phase          string  `json:"phase"`
	SustainedRate  float64 `json:"sustained_rate"`
	ReadingsRate   float64 `json:"sustained_readings_rate"`
	BaselineRate   float64 `json:"baseline_rate,omitempty"`
	RatioToBase    float64 `json:"ratio_to_baseline,omitempty"`
	Unexplained    int64   `json:"unexplained"`
	CPUPerMillion  float64 `json:"edgeplane_cpu_s_per_million"`
	BrokerCPUPerM  float64 `json:"broker_cpu_s_per_million,omitempty"`
	PeakRSS        uint64  `json:"edgeplane_peak_rss_bytes"`
	BrokerPeakRSS  uint64  `json:"broker_peak_rss_bytes,omitempty"`
	InProcess      bool    `json:"in_process"`
	LatencyP50     float64 `json:"latency_p50_ms"`
	LatencyP99     float64 `json:"latency_p99_ms"`
	ProcessingP50  float64 `json:"processing_p50_ms"`
	ProcessingP99  float64 `json:"processing_p99_ms"`
	SustainedFound bool    `json:"sustained_found"`
	// GeneratorBound: the headline phase is limited by what the
	// generator could offer on this host, not by edgeplane.
	GeneratorBound bool `json:"generator_bound"`
	// Limit says why the rate search stopped, so that the sustained rate
	// reads right: one of the Limit* constants.
	Limit string `json:"limit"`
	// LimitDetail says it in a sentence, with the rates involved.
	LimitDetail string `json:"limit_detail,omitempty"`
}

// Why a rate search stopped (Headline.Limit).
const (
	// LimitFixed: one fixed-rate run, no search.
	LimitFixed = "fixed_rate"
	// LimitEdgeplane: a step was not sustained above a sustained one:
	// the sustained rate is edgeplane's limit, to the search's
	// resolution.
	LimitEdgeplane = "edgeplane"
	// LimitBroker: not sustained at a rate the bare subscriber could not
	// receive on the same broker either: the broker (or the host) is the
	// limit, not edgeplane.
	LimitBroker = "broker"
	// LimitGenerator: the generator could not offer the next rate and
	// edgeplane kept up with all it got.
	LimitGenerator = "generator"
	// LimitMaxRate: every step up to the scenario's max_rate was
	// sustained.
	LimitMaxRate = "max_rate"
	// LimitStepCap: every step was sustained and max_steps ran out: no
	// limit was found, the sustained rate is a lower bound.
	LimitStepCap = "step_cap"
	// LimitNone: not even the lowest step was sustained.
	LimitNone = "nothing_sustained"
)

// judge decides whether the phase was sustained and says why not.
func (ph *PhaseReport) judge(sc *Scenario) {
	minAch := 0.97
	if sc.Steps != nil {
		minAch = sc.Steps.MinAchieved
	}
	var why []string
	rc := &ph.Reconciliation
	if rc.Unexplained > 0 {
		why = append(why, fmt.Sprintf("%d readings lost without explanation", rc.Unexplained))
	} else if rc.Unexplained < 0 {
		why = append(why, fmt.Sprintf("%d readings counted more than sent", -rc.Unexplained))
	}
	if rc.RingDropped > 0 {
		why = append(why, fmt.Sprintf("%d readings dropped by full rings", rc.RingDropped))
	}
	if rc.PublishFailed > 0 {
		why = append(why, fmt.Sprintf("%d readings failed to publish", rc.PublishFailed))
	}
	if !ph.Settled {
		why = append(why, "aggregates still missing when the settle time ran out")
	}
	if p99 := ph.Latency.Processing.P99; p99 > float64(sc.MaxProcessingP99.Ms()) {
		why = append(why, fmt.Sprintf("processing latency p99 %s ms is above %s", fmtMs(p99), sc.MaxProcessingP99.D()))
	}
	ph.GeneratorBound = ph.Offered > 0 && ph.Achieved < minAch*ph.Offered
	ph.Sustained = len(why) == 0
	switch {
	case ph.Sustained && ph.GeneratorBound:
		ph.Verdict = fmt.Sprintf("sustained at the generator's limit (it reached %.1f%% of the offered rate)", 100*ph.Achieved/ph.Offered)
	case ph.Sustained:
		ph.Verdict = "sustained"
	default:
		if ph.GeneratorBound {
			why = append(why, fmt.Sprintf("generator reached only %.1f%% of the offered rate", 100*ph.Achieved/ph.Offered))
		}
		ph.Verdict = "not sustained: " + strings.Join(why, "; ")
	}
	if ph.Warmup {
		ph.Verdict = "warm-up (not judged): " + ph.Verdict
	}
}

// finish fills the headline.
func (r *Report) finish() {
	r.Seconds = time.Since(r.Started).Seconds()
	if r.Baseline != nil {
		r.Headline.BaselineRate = r.Baseline.ReceiveRate
	}
	var best *PhaseReport
	for i := range r.Phases {
		ph := &r.Phases[i]
		if ph.Warmup {
			continue
		}
		if ph.Sustained && (best == nil || ph.Achieved > best.Achieved) {
			best = ph
		}
	}
	h := &r.Headline
	if best == nil && len(r.Phases) > 0 && !r.Phases[len(r.Phases)-1].Warmup {
		best = &r.Phases[len(r.Phases)-1] // nothing sustained: show the last
	} else if best != nil {
		h.SustainedFound = true
	}
	if best == nil {
		return
	}
	h.Phase = best.Name
	h.GeneratorBound = best.GeneratorBound
	if h.SustainedFound {
		h.SustainedRate = best.Achieved
		if best.Seconds > 0 {
			h.ReadingsRate = float64(best.Readings) / best.Seconds
		}
	}
	if h.BaselineRate > 0 && h.SustainedRate > 0 {
		h.RatioToBase = h.SustainedRate / h.BaselineRate
	}
	h.Unexplained = best.Reconciliation.Unexplained
	for _, p := range best.Resources {
		switch p.Role {
		case "edgeplane":
			h.CPUPerMillion, h.PeakRSS, h.InProcess = p.CPUPerMilli, p.PeakRSS, p.InProcess
		case "broker":
			h.BrokerCPUPerM, h.BrokerPeakRSS = p.CPUPerMilli, p.PeakRSS
		}
	}
	h.LatencyP50, h.LatencyP99 = best.Latency.Raw.P50, best.Latency.Raw.P99
	h.ProcessingP50, h.ProcessingP99 = best.Latency.Processing.P50, best.Latency.Processing.P99
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(r)
}

// Save writes <dir>/<scenario>-<UTC time>.{md,json,svg} and returns the
// paths written.
func (r *Report) Save(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	base := filepath.Join(dir, fmt.Sprintf("%s-%s", r.Scenario.Name, r.Started.Format("20060102T150405Z")))
	var paths []string
	write := func(ext string, f func(io.Writer) error) error {
		p := base + ext
		fh, err := os.Create(p)
		if err != nil {
			return err
		}
		if err := f(fh); err != nil {
			fh.Close()
			return fmt.Errorf("write %s: %w", p, err)
		}
		paths = append(paths, p)
		return fh.Close()
	}
	if len(r.Phases) > 0 {
		if err := write(".svg", r.WriteChart); err != nil {
			return paths, err
		}
		r.Chart = filepath.Base(base + ".svg")
	}
	if err := write(".json", r.WriteJSON); err != nil {
		return paths, err
	}
	if err := write(".md", r.WriteMarkdown); err != nil {
		return paths, err
	}
	return paths, nil
}
