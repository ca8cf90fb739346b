package bench

import (
	"fmt"
	"slices"
	"strings"

	"github.com/edgeplane/edgeplane/config"
)

// PipelineSpec is the gateway side of a scenario: how the benchmark
// pipeline windows and where it writes. GatewayConfig turns it into an
// edgeplane config; an external gateway must be configured to match it
// (the same window size, out_of_orderness and topic), since the
// reconciliation accounts by those windows.
type PipelineSpec struct {
	// Window is the tumbling window size. Default 1s.
	Window Duration `yaml:"window" json:"window"`
	// OutOfOrderness is the watermark bound B. Default 1s.
	OutOfOrderness Duration `yaml:"out_of_orderness" json:"out_of_orderness"`
	// IdleTimeout lets the last windows of a phase close when the
	// generator pauses. Default 1s.
	IdleTimeout Duration `yaml:"idle_timeout" json:"idle_timeout"`
	// Shards are the operator goroutines. Default 2.
	Shards int `yaml:"shards" json:"shards"`
	// RingCapacity per shard. Default: the gateway's own default
	// (config.DefaultRingCapacity), so that memory figures are those of
	// the packaged gateway.
	RingCapacity int `yaml:"ring_capacity" json:"ring_capacity"`
	// RingPolicy is block (default), drop_newest or drop_oldest.
	RingPolicy string `yaml:"ring_policy" json:"ring_policy"`
	// SourceQoS is the QoS of edgeplane's own subscriptions. Default:
	// the publishers' QoS.
	SourceQoS *int `yaml:"source_qos" json:"source_qos,omitempty"`
	// Topic is the Kafka topic of the aggregates. Default
	// edgebench.aggregates.
	Topic string `yaml:"topic" json:"topic"`
	// Aggregates are the pipeline's aggregates. Default [count, sum,
	// min, max, mean]; count is always kept (the accounting reads it).
	Aggregates []string `yaml:"aggregates" json:"aggregates"`
}

func (p *PipelineSpec) defaults() {
	if p.Window == 0 {
		p.Window = Duration(1e9)
	}
	if p.OutOfOrderness == 0 {
		p.OutOfOrderness = Duration(1e9)
	}
	if p.IdleTimeout == 0 {
		p.IdleTimeout = Duration(1e9)
	}
	if p.Shards <= 0 {
		p.Shards = 2
	}
	if p.RingCapacity <= 0 {
		p.RingCapacity = config.DefaultRingCapacity
	}
	if p.RingPolicy == "" {
		p.RingPolicy = "block"
	}
	if p.Topic == "" {
		p.Topic = "edgebench.aggregates"
	}
	if len(p.Aggregates) == 0 {
		p.Aggregates = []string{"count", "sum", "min", "max", "mean"}
	}
	if !slices.Contains(p.Aggregates, "count") {
		p.Aggregates = append([]string{"count"}, p.Aggregates...)
	}
}

// GatewayAddrs are the addresses a generated gateway config uses.
type GatewayAddrs struct {
	DataDir    string
	MQTTListen string // host:port, port 0 = any
	HTTPListen string // host:port or "off"
	Kafka      []string
	// WS, when set, makes the gateway take its readings from a WebSocket
	// source instead of MQTT (see WSEndpoint).
	WS *WSEndpoint
	// Broker, when set, is the MQTT broker URL the sources subscribe to
	// instead of the embedded listener (which is then off).
	Broker string
	// MemoryLimit, when set, is the gateway's memory_limit (a size, as
	// the config takes it); else the gateway's default.
	MemoryLimit string
}

// WSEndpoint is the WebSocket source of a generated gateway config: one
// endpoint that every publisher connection dials, with a fixed topic,
// since WSPublisher puts the series key in each object.
type WSEndpoint struct {
	Listen string // host:port; a fixed port (the gateway does not report it)
	Path   string // default WSPath
	Token  string // bearer token; empty: no authentication
	// MaxConns is the source's connection bound; it must cover the
	// scenario's connections. Default 1024.
	MaxConns int
}

// WSPath is the endpoint path of the generated WebSocket source.
const WSPath = "/ingest"

// URL is the ws:// URL of the endpoint.
func (w *WSEndpoint) URL() string {
	path := w.Path
	if path == "" {
		path = WSPath
	}
	return "ws://" + w.Listen + path
}

// GatewayConfig returns an edgeplane config (YAML) for the sensor set and
// pipeline: one MQTT source per sensor type on the embedded listener,
// decoding the set's format so that the series keys equal Series.Key —
// or, with a.WS, one WebSocket source decoding WSPublisher's keyed JSON
// objects — and one tumbling pipeline over the sources counting [count,
// sum, min, max, mean] into p.Topic.
func GatewayConfig(ss *SensorSet, p PipelineSpec, qos int, a GatewayAddrs) []byte {
	p.defaults()
	if p.SourceQoS != nil {
		qos = *p.SourceQoS
	}
	if a.Broker != "" {
		a.MQTTListen = "" // the sources subscribe to a.Broker: no listener
	}
	var b strings.Builder
	fmt.Fprintf(&b, `gateway:
  id: edgebench-gw
  data_dir: %q
  http_listen: %q
  log_level: warn
  shutdown_timeout: 30s
  pprof: %t
%snats:
  mqtt_listen: %q
  buffer:
    max_bytes: 1GiB
kafka:
  brokers: [%s]
  auto_create_topics: true
sources:
`, a.DataDir, a.HTTPListen, a.HTTPListen != "off", memoryLimitLine(a.MemoryLimit), a.MQTTListen, quoteList(a.Kafka))
	var names []string
	if a.WS != nil {
		names = append(names, writeWSSource(&b, ss, a.WS))
	} else {
		names = writeMQTTSources(&b, ss, qos, a.Broker)
	}
	fmt.Fprintf(&b, `pipelines:
  - name: bench
    from: [%s]
    window:
      type: tumbling
      size: %s
      out_of_orderness: %s
      idle_timeout: %s
    aggregates: [%s]
    max_series: %d
    ring:
      shards: %d
      capacity: %d
      policy: %s
    to:
      topic: %s
`, strings.Join(names, ", "), p.Window.D(), p.OutOfOrderness.D(), p.IdleTimeout.D(), strings.Join(p.Aggregates, ", "), len(ss.Series)+16,
		p.Shards, p.RingCapacity, p.RingPolicy, p.Topic)
	return []byte(b.String())
}

// writeMQTTSources writes one MQTT source per sensor type on the
// embedded listener and returns their names.
func writeMQTTSources(b *strings.Builder, ss *SensorSet, qos int, broker string) []string {
	if broker == "" {
		broker = "embedded"
	}
	var names []string
	for _, prof := range ss.Types() {
		names = append(names, prof.Type)
		var fields []string
		for _, f := range prof.Fields {
			fields = append(fields, "{name: "+f.Name+"}")
		}
		fmt.Fprintf(b, "  - name: %s\n    mqtt:\n      broker: %q\n", prof.Type, broker)
		switch ss.Spec.Format {
		case FormatTTN:
			fmt.Fprintf(b, "      topics: [\"v3/%s@city/devices/+/up\"]\n      qos: %d\n    decode:\n      format: ttn\n", prof.Type, qos)
		case FormatSenML:
			fmt.Fprintf(b, "      topics: [\"city/+/%s/+\"]\n      qos: %d\n    decode:\n      format: senml\n"+
				"      topic_pattern: \"city/{district}/{type}/{id}\"\n      key: \"{district}/{type}/{id}\"\n", prof.Type, qos)
		default:
			fmt.Fprintf(b, "      topics: [\"city/+/%s/+\"]\n      qos: %d\n    decode:\n      format: json\n"+
				"      topic_pattern: \"city/{district}/{type}/{id}\"\n      key: \"{district}/{type}/{id}\"\n"+
				"      time_path: ts\n      time_unit: ms\n", prof.Type, qos)
		}
		fmt.Fprintf(b, "      fields: [%s]\n", strings.Join(fields, ", "))
	}
	return names
}

// writeWSSource writes the WebSocket source of w and returns its name.
// WSPublisher sends {"key":"d1/air/s-0","type":"air","ts":<ms>,<fields>}
// objects of every sensor type over the same connections, so the source
// takes the key and event time from the object and lists the fields of
// every profile: a field absent from an object is skipped, not refused.
func writeWSSource(b *strings.Builder, ss *SensorSet, w *WSEndpoint) string {
	path := w.Path
	if path == "" {
		path = WSPath
	}
	maxConns := w.MaxConns
	if maxConns <= 0 {
		maxConns = 1024
	}
	var fields []string
	for _, f := range ss.Fields {
		fields = append(fields, "{name: "+f+"}")
	}
	const name = "ws"
	fmt.Fprintf(b, "  - name: %s\n    type: websocket\n    websocket:\n      listen: %q\n      path: %q\n      topic: edgebench/ws\n", name, w.Listen, path)
	if w.Token != "" {
		fmt.Fprintf(b, "      token: %q\n", strings.ReplaceAll(w.Token, "$", "$$"))
	}
	// idle_timeout outlasts the settling between phases, when the
	// publishers are silent.
	fmt.Fprintf(b, "      max_conns: %d\n      max_frame: 65536\n      idle_timeout: 10m\n", maxConns)
	fmt.Fprintf(b, "    decode:\n      format: json\n      key_path: key\n      time_path: ts\n      time_unit: ms\n      fields: [%s]\n",
		strings.Join(fields, ", "))
	return name
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

func memoryLimitLine(limit string) string {
	if limit == "" {
		return ""
	}
	return "  memory_limit: " + limit + "\n"
}

// GatewayConfigFitted is GatewayConfig with a memory_limit large enough
// for the pipeline's bounds: the gateway's default where that fits, else
// what validation computes they need (config.MemoryEstimate.LeastLimit),
// rounded up to a MiB. A sweep to 100,000 series needs more than the
// default; the report's config says what was set.
func GatewayConfigFitted(ss *SensorSet, p PipelineSpec, qos int, a GatewayAddrs) []byte {
	probe := a
	probe.MemoryLimit = "1TiB"
	cfg, err := config.LoadBytes("edgebench.yaml", GatewayConfig(ss, p, qos, probe), func(string) (string, bool) { return "", false })
	if err == nil {
		if c, err := config.Compile(cfg); err == nil {
			if need := c.Memory().LeastLimit(); need > config.DefaultMemoryLimit {
				a.MemoryLimit = fmt.Sprintf("%dMiB", (need+(1<<20)-1)>>20)
			}
		}
	}
	return GatewayConfig(ss, p, qos, a)
}
