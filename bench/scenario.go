package bench

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/edgeplane/edgeplane/bench/sim"
)

// Transports a scenario publishes over.
const (
	TransportMQTT = "mqtt"
	TransportWS   = "ws"
)

// Scenario is one benchmark: what to publish, how fast, and against which
// pipeline. Files use the YAML keys below; unknown keys are errors.
type Scenario struct {
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description" json:"description"`

	// Transport is mqtt (default) or ws.
	Transport string `yaml:"transport" json:"transport"`
	// Broker is the MQTT broker of an embedded or subprocess target:
	// embedded (default: the gateway's own listener) or mosquitto (one
	// edgebench starts; the gateway subscribes with its paho source).
	Broker string `yaml:"broker" json:"broker"`
	// Connections publishing in parallel. Default 1 (mqtt), 1000 (ws).
	Connections int `yaml:"connections" json:"connections"`
	// QoS of the MQTT publishes, 0 or 1.
	QoS int `yaml:"qos" json:"qos"`
	// PerFrame and Framing shape WebSocket frames (see WSOptions).
	PerFrame int    `yaml:"per_frame" json:"per_frame,omitempty"`
	Framing  string `yaml:"framing" json:"framing,omitempty"`

	Sensors  SensorSpec   `yaml:"sensors" json:"sensors"`
	Faults   Faults       `yaml:"faults" json:"faults"`
	Pipeline PipelineSpec `yaml:"pipeline" json:"pipeline"`

	// Rate is the offered rate (messages/s) of a fixed-rate scenario;
	// 0 with no Steps publishes at the maximum rate.
	Rate float64 `yaml:"rate" json:"rate"`
	// Duration of a fixed-rate scenario, and of each step. Default 10s.
	Duration Duration `yaml:"duration" json:"duration"`
	// Steps, when set, steps the rate up to find the highest sustained
	// one (see StepSpec).
	Steps *StepSpec `yaml:"steps" json:"steps,omitempty"`

	// Outage, when set, pauses Kafka during the run.
	Outage *OutageSpec `yaml:"outage" json:"outage,omitempty"`

	// Baseline measures a bare paho subscriber on the same broker first
	// (see BaselineSpec). Default off.
	Baseline BaselineSpec `yaml:"baseline" json:"baseline"`

	// Warmup runs a first phase of this length at the first rate, which
	// is reported but neither judged for the headline nor stepped from:
	// the gateway meets every series for the first time in it. Default 0.
	Warmup Duration `yaml:"warmup" json:"warmup"`
	// MaxProcessingP99 is the processing-latency p99 above which a phase
	// is not sustained (the gateway is queueing). Default 1s plus the
	// pipeline's idle_timeout: in series scope (the gateway's default) a
	// window closes at its series' next reading past the bound, or after
	// idle_timeout, and a sparse series — 10,000 series at 10,000 msg/s
	// read once a second each — waits for it; processing latency does not
	// discount that wait.
	MaxProcessingP99 Duration `yaml:"max_processing_p99" json:"max_processing_p99"`

	// Settle bounds the wait for the last aggregates of a phase after
	// publishing stops. Default 30s (60s plus the outage with one).
	Settle Duration `yaml:"settle" json:"settle"`
	// SampleEvery: one message in SampleEvery is a latency sample.
	// Default 16.
	SampleEvery int `yaml:"sample_every" json:"sample_every"`
}

// StepSpec steps the offered rate: Start, then ×Factor after every step
// that is sustained, until one is not, MaxRate is passed or MaxSteps ran;
// then Refine bisection steps between the last sustained rate and the
// first failed one. A step where the generator could not reach the
// offered rate but edgeplane kept up with what it got ends the stepping:
// the host cannot offer more.
type StepSpec struct {
	Start float64 `yaml:"start" json:"start"`
	// Rates, when given, are the steps' rates in order, instead of Start
	// × Factor; MaxSteps and MaxRate do not apply.
	Rates    []float64 `yaml:"rates" json:"rates,omitempty"`
	Factor   float64   `yaml:"factor" json:"factor"`
	MaxRate  float64   `yaml:"max_rate" json:"max_rate,omitempty"`
	MaxSteps int       `yaml:"max_steps" json:"max_steps"`
	Refine   int       `yaml:"refine" json:"refine"`
	// MinAchieved is the fraction of the offered rate the generator must
	// reach for a step to count as sustained. Default 0.97.
	MinAchieved float64 `yaml:"min_achieved" json:"min_achieved"`
}

// OutageSpec pauses Kafka from At after the start of publishing for For.
type OutageSpec struct {
	At  Duration `yaml:"at" json:"at"`
	For Duration `yaml:"for" json:"for"`
}

// BaselineSpec configures the bare-subscriber ceiling measurement (see
// RunBaseline): paced steps from Start doubling while lossless, then a
// flood at the maximum rate.
type BaselineSpec struct {
	Enabled bool `yaml:"enabled" json:"enabled"`
	// Duration of each step. Default 3s.
	Duration Duration `yaml:"duration" json:"duration"`
	// Start rate. Default: the scenario's first rate, else 10,000/s.
	Start float64 `yaml:"start" json:"start"`
	// MaxSteps bounds the paced steps. Default 6.
	MaxSteps int `yaml:"max_steps" json:"max_steps"`
	// Flood is the length of the maximum-rate measurement. Default 3s.
	Flood Duration `yaml:"flood" json:"flood"`
}

// LoadScenario reads a scenario file strictly.
func LoadScenario(path string) (*Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseScenario(b, path)
}

// ParseScenario parses YAML; name is used in errors.
func ParseScenario(b []byte, name string) (*Scenario, error) {
	var sc Scenario
	if err := yaml.NewDecoder(bytes.NewReader(b), yaml.DisallowUnknownField()).Decode(&sc); err != nil {
		return nil, fmt.Errorf("scenario %s: %w", name, err)
	}
	if sc.Name == "" {
		sc.Name = name
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	return &sc, nil
}

// Defaults fills in every default. Validate calls it.
func (sc *Scenario) Defaults() {
	if sc.Transport == "" {
		sc.Transport = TransportMQTT
	}
	if sc.Broker == "" {
		sc.Broker = BrokerEmbedded
	}
	if sc.Connections <= 0 {
		sc.Connections = 1
		if sc.Transport == TransportWS {
			sc.Connections = 1000
		}
	}
	sc.Sensors.defaults()
	sc.Pipeline.defaults()
	if sc.Duration == 0 {
		sc.Duration = Duration(10 * time.Second)
	}
	if sc.Faults.Disorder == 0 {
		sc.Faults.Disorder = sc.Pipeline.OutOfOrderness / 2
	}
	if sc.Faults.LateBy == 0 {
		sc.Faults.LateBy = sc.Pipeline.OutOfOrderness + sc.Pipeline.Window + Duration(2*time.Second)
	}
	if sc.Steps != nil {
		if len(sc.Steps.Rates) > 0 && sc.Steps.Start <= 0 {
			sc.Steps.Start = sc.Steps.Rates[0]
		}
		if sc.Steps.Factor <= 1 {
			sc.Steps.Factor = 2
		}
		if sc.Steps.MaxSteps <= 0 {
			sc.Steps.MaxSteps = 6
		}
		if sc.Steps.MinAchieved <= 0 {
			sc.Steps.MinAchieved = 0.97
		}
	}
	if sc.Baseline.Duration == 0 {
		sc.Baseline.Duration = Duration(3 * time.Second)
	}
	if sc.Baseline.Start <= 0 {
		sc.Baseline.Start = sc.Rate
		if sc.Steps != nil {
			sc.Baseline.Start = sc.Steps.Start
		}
		if sc.Baseline.Start <= 0 {
			sc.Baseline.Start = 10000
		}
	}
	if sc.Baseline.MaxSteps <= 0 {
		sc.Baseline.MaxSteps = 6
	}
	if sc.Baseline.Flood == 0 {
		sc.Baseline.Flood = Duration(3 * time.Second)
	}
	if sc.Settle == 0 {
		sc.Settle = Duration(30 * time.Second)
		if sc.Outage != nil {
			sc.Settle = Duration(60*time.Second) + sc.Outage.For
		}
	}
	if sc.SampleEvery <= 0 {
		sc.SampleEvery = 16
	}
	if sc.MaxProcessingP99 == 0 {
		sc.MaxProcessingP99 = Duration(time.Second) + sc.Pipeline.IdleTimeout
	}
}

// Validate applies defaults and returns every problem at once.
func (sc *Scenario) Validate() error {
	sc.Defaults()
	var p []string
	add := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	if sc.Transport != TransportMQTT && sc.Transport != TransportWS {
		add("transport %q: want mqtt or ws", sc.Transport)
	}
	if sc.QoS != 0 && sc.QoS != 1 {
		add("qos %d: want 0 or 1", sc.QoS)
	}
	switch sc.Sensors.Format {
	case FormatJSON, FormatSenML, FormatTTN:
	default:
		add("sensors.format %q: want json, senml or ttn", sc.Sensors.Format)
	}
	for _, t := range sc.Sensors.Types {
		if _, ok := sim.Profiles[t]; !ok {
			add("sensors.types: unknown profile %q (have %v)", t, profileNames())
		}
	}
	f := sc.Faults
	for _, x := range []struct {
		n string
		v float64
	}{{"out_of_order", f.OutOfOrder}, {"late", f.Late}, {"duplicate", f.Duplicate}, {"malformed", f.Malformed}} {
		if x.v < 0 || x.v > 1 {
			add("faults.%s %v: want a fraction in [0, 1]", x.n, x.v)
		}
	}
	if f.OutOfOrder+f.Late+f.Duplicate+f.Malformed > 1 {
		add("faults: fractions sum to more than 1")
	}
	if f.Disorder >= sc.Pipeline.OutOfOrderness && f.OutOfOrder > 0 {
		add("faults.disorder %s: must stay below pipeline.out_of_orderness %s, or out-of-order readings turn late", f.Disorder.D(), sc.Pipeline.OutOfOrderness.D())
	}
	if sc.Broker != BrokerEmbedded && sc.Broker != BrokerMosquitto {
		add("broker %q: want embedded or mosquitto", sc.Broker)
	}
	if sc.Broker == BrokerMosquitto && sc.Transport != TransportMQTT {
		add("broker mosquitto: only for transport mqtt")
	}
	if sc.Steps != nil && len(sc.Steps.Rates) == 0 && sc.Steps.Start <= 0 {
		add("steps.start: want a positive rate (or steps.rates)")
	}
	if sc.Steps != nil {
		for i, r := range sc.Steps.Rates {
			if r <= 0 || (i > 0 && r <= sc.Steps.Rates[i-1]) {
				add("steps.rates: want positive rates in increasing order, got %v", sc.Steps.Rates)
				break
			}
		}
	}
	if sc.Outage != nil && (sc.Outage.For <= 0 || sc.Outage.At+sc.Outage.For > sc.Duration) {
		add("outage: at %s + for %s must end within duration %s", sc.Outage.At.D(), sc.Outage.For.D(), sc.Duration.D())
	}
	if sc.Rate < 0 {
		add("rate %v: want ≥ 0", sc.Rate)
	}
	if sc.Transport == TransportWS && sc.Framing != "" && sc.Framing != FramingJSON && sc.Framing != FramingNDJSON {
		add("framing %q: want json or ndjson", sc.Framing)
	}
	if len(p) > 0 {
		return fmt.Errorf("scenario %s: %d problem(s):\n  %s", sc.Name, len(p), joinLines(p))
	}
	return nil
}

func joinLines(p []string) string {
	var b bytes.Buffer
	for i, s := range p {
		if i > 0 {
			b.WriteString("\n  ")
		}
		b.WriteString(s)
	}
	return b.String()
}

func profileNames() []string {
	var n []string
	for k := range sim.Profiles {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// builtins are the scenarios edgebench knows by name.
var builtins = map[string]string{
	"smoke": `
name: smoke
description: 10 s at 2,000 msg/s over 500 series, every fault kind, embedded stack; proves the accounting end to end.
qos: 1
sensors: {series: 500, districts: 5}
faults: {out_of_order: 0.05, late: 0.01, duplicate: 0.01, malformed: 0.01}
pipeline: {window: 1s, out_of_orderness: 1s, idle_timeout: 1s}
rate: 2000
duration: 10s
baseline: {enabled: true, duration: 1s, max_steps: 2, flood: 1s}
`,
	"standard": `
name: standard
description: 10,000 series, MQTT QoS 0, 1 s tumbling windows; steps the rate up to the highest with 0 unexplained loss, against a bare paho subscriber on the same broker.
qos: 0
connections: 2
sensors: {series: 10000, districts: 20}
faults: {out_of_order: 0.02, late: 0.001, duplicate: 0.001, malformed: 0.001}
pipeline: {window: 1s, out_of_orderness: 1s, idle_timeout: 1s}
duration: 10s
warmup: 5s
steps: {start: 10000, factor: 2, max_steps: 10, refine: 1}
baseline: {enabled: true, duration: 3s, max_steps: 6, flood: 3s}
`,
	"peers": `
name: peers
description: the peer comparison's load — 1,000 sensors, 4 publishers, QoS 0 JSON through a Mosquitto broker edgebench starts, 1 s tumbling windows — at 25k, 75k and 150k msg/s, against a bare paho subscriber on the same broker.
broker: mosquitto
qos: 0
connections: 4
sensors: {series: 1000, districts: 10}
pipeline: {window: 1s, out_of_orderness: 1s, idle_timeout: 1s}
duration: 15s
warmup: 5s
steps: {rates: [25000, 75000, 150000], refine: 0}
baseline: {enabled: true, duration: 3s, max_steps: 4, flood: 3s}
`,
	"series": `
name: series
description: memory and CPU by series count — 10,000 msg/s, QoS 0 through Mosquitto, 1 s tumbling windows with a p95 per window; run it with --series 1000,10000,100000 for the sweep.
broker: mosquitto
qos: 0
connections: 4
sensors: {series: 10000, districts: 20}
pipeline: {window: 1s, out_of_orderness: 1s, idle_timeout: 1s, aggregates: [count, sum, min, max, mean, p95]}
rate: 10000
duration: 20s
warmup: 10s
`,
	"outage": `
name: outage
description: 5,000 msg/s for 30 s with Kafka failing every produce from 8 s to 18 s; everything must arrive after the uplink returns.
qos: 1
sensors: {series: 2000, districts: 10}
faults: {out_of_order: 0.02}
pipeline: {window: 1s, out_of_orderness: 1s, idle_timeout: 1s}
rate: 5000
duration: 30s
outage: {at: 8s, for: 10s}
`,
	"ws-fanin": `
name: ws-fanin
description: 1,000 WebSocket connections at 10 readings/s each, frames of up to 5 readings.
transport: ws
connections: 1000
per_frame: 5
framing: json
sensors: {series: 5000, districts: 10}
pipeline: {window: 1s, out_of_orderness: 1s, idle_timeout: 1s}
rate: 10000
duration: 20s
`,
}

// Builtin returns the built-in scenario name.
func Builtin(name string) (*Scenario, error) {
	y, ok := builtins[name]
	if !ok {
		return nil, fmt.Errorf("bench: no built-in scenario %q (have %v)", name, BuiltinNames())
	}
	return ParseScenario([]byte(y), name)
}

// BuiltinNames lists the built-in scenarios.
func BuiltinNames() []string {
	var n []string
	for k := range builtins {
		n = append(n, k)
	}
	slices.Sort(n)
	return n
}

// LookupScenario returns a built-in by name, else loads the file.
func LookupScenario(nameOrFile string) (*Scenario, error) {
	if _, ok := builtins[nameOrFile]; ok {
		return Builtin(nameOrFile)
	}
	return LoadScenario(nameOrFile)
}

// Overrides are command-line changes to a scenario; zero values change
// nothing.
type Overrides struct {
	Duration    time.Duration
	Rate        float64
	Connections int
	QoS         int // -1: keep
	Series      int
	Format      string
	MaxSteps    int
	NoBaseline  bool
	Shards      int
}

// Apply changes sc by o and validates it again.
func (o Overrides) Apply(sc *Scenario) error {
	if o.Duration > 0 {
		sc.Duration = Duration(o.Duration)
		if sc.Outage != nil && sc.Outage.At+sc.Outage.For > sc.Duration {
			// Keep the outage inside the shorter run: the middle third.
			sc.Outage.At, sc.Outage.For = sc.Duration/3, sc.Duration/3
		}
	}
	if o.Rate > 0 {
		if sc.Steps != nil {
			sc.Steps.Start = o.Rate
		} else {
			sc.Rate = o.Rate
		}
	}
	if o.Connections > 0 {
		sc.Connections = o.Connections
	}
	if o.QoS >= 0 {
		sc.QoS = o.QoS
	}
	if o.Series > 0 {
		sc.Sensors.Series = o.Series
	}
	if o.Format != "" {
		sc.Sensors.Format = o.Format
	}
	if o.MaxSteps > 0 && sc.Steps != nil {
		sc.Steps.MaxSteps = o.MaxSteps
	}
	if o.NoBaseline {
		sc.Baseline.Enabled = false
	}
	if o.Shards > 0 {
		sc.Pipeline.Shards = o.Shards
	}
	return sc.Validate()
}
