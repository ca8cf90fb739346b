package bench

import (
	"fmt"
	"strings"
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
	// RingCapacity per shard. Default 65536.
	RingCapacity int `yaml:"ring_capacity" json:"ring_capacity"`
	// RingPolicy is block (default), drop_newest or drop_oldest.
	RingPolicy string `yaml:"ring_policy" json:"ring_policy"`
	// SourceQoS is the QoS of edgeplane's own subscriptions. Default:
	// the publishers' QoS.
	SourceQoS *int `yaml:"source_qos" json:"source_qos,omitempty"`
	// Topic is the Kafka topic of the aggregates. Default
	// edgebench.aggregates.
	Topic string `yaml:"topic" json:"topic"`
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
		p.RingCapacity = 65536
	}
	if p.RingPolicy == "" {
		p.RingPolicy = "block"
	}
	if p.Topic == "" {
		p.Topic = "edgebench.aggregates"
	}
}

// GatewayAddrs are the addresses a generated gateway config uses.
type GatewayAddrs struct {
	DataDir    string
	MQTTListen string // host:port, port 0 = any
	HTTPListen string // host:port or "off"
	Kafka      []string
}

// GatewayConfig returns an edgeplane config (YAML) for the sensor set and
// pipeline: one MQTT source per sensor type on the embedded listener,
// decoding the set's format so that the series keys equal Series.Key, and
// one tumbling pipeline over all of them counting [count, sum, min, max,
// mean] into p.Topic.
func GatewayConfig(ss *SensorSet, p PipelineSpec, qos int, a GatewayAddrs) []byte {
	p.defaults()
	if p.SourceQoS != nil {
		qos = *p.SourceQoS
	}
	var b strings.Builder
	fmt.Fprintf(&b, `gateway:
  id: edgebench-gw
  data_dir: %q
  http_listen: %q
  log_level: warn
  shutdown_timeout: 30s
nats:
  mqtt_listen: %q
  buffer:
    max_bytes: 1GiB
kafka:
  brokers: [%s]
  auto_create_topics: true
sources:
`, a.DataDir, a.HTTPListen, a.MQTTListen, quoteList(a.Kafka))
	var names []string
	for _, prof := range ss.Types() {
		names = append(names, prof.Type)
		var fields []string
		for _, f := range prof.Fields {
			fields = append(fields, "{name: "+f.Name+"}")
		}
		fmt.Fprintf(&b, "  - name: %s\n    mqtt:\n      broker: embedded\n", prof.Type)
		switch ss.Spec.Format {
		case FormatTTN:
			fmt.Fprintf(&b, "      topics: [\"v3/%s@city/devices/+/up\"]\n      qos: %d\n    decode:\n      format: ttn\n", prof.Type, qos)
		case FormatSenML:
			fmt.Fprintf(&b, "      topics: [\"city/+/%s/+\"]\n      qos: %d\n    decode:\n      format: senml\n"+
				"      topic_pattern: \"city/{district}/{type}/{id}\"\n      key: \"{district}/{type}/{id}\"\n", prof.Type, qos)
		default:
			fmt.Fprintf(&b, "      topics: [\"city/+/%s/+\"]\n      qos: %d\n    decode:\n      format: json\n"+
				"      topic_pattern: \"city/{district}/{type}/{id}\"\n      key: \"{district}/{type}/{id}\"\n"+
				"      time_path: ts\n      time_unit: ms\n", prof.Type, qos)
		}
		fmt.Fprintf(&b, "      fields: [%s]\n", strings.Join(fields, ", "))
	}
	fmt.Fprintf(&b, `pipelines:
  - name: bench
    from: [%s]
    window:
      type: tumbling
      size: %s
      out_of_orderness: %s
      idle_timeout: %s
    aggregates: [count, sum, min, max, mean]
    max_series: %d
    ring:
      shards: %d
      capacity: %d
      policy: %s
    to:
      topic: %s
`, strings.Join(names, ", "), p.Window.D(), p.OutOfOrderness.D(), p.IdleTimeout.D(), len(ss.Series)+16,
		p.Shards, p.RingCapacity, p.RingPolicy, p.Topic)
	return []byte(b.String())
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}
