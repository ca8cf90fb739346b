package config

import (
	"fmt"
	"time"

	"github.com/edgeplane/edgeplane/decode"
	"github.com/edgeplane/edgeplane/operators"
	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/sink"
)

// Defaults of the options whose default is not a stage's own. Every other
// default is the stage's constant (decode.DefaultMaxPayload, …), filled
// in here so that `edgeplane config` shows it and the stage gets the value
// the file means.
const (
	DefaultDataDir         = "./data"
	DefaultHTTPListen      = "127.0.0.1:8080"
	DefaultLogLevel        = "info"
	DefaultShutdownTimeout = 15 * time.Second
	DefaultTelemetryTopic  = "edgeplane.telemetry"
	DefaultTelemetryEvery  = time.Minute
	// DefaultMemoryLimit is gateway.memory_limit's default: a quarter of
	// a 1 GB device (see Gateway.MemoryLimit).
	DefaultMemoryLimit = 256 << 20
	// DefaultGCPercent is gateway.gc_percent's default. Go's own (100)
	// lets garbage grow to the live heap again between collections; at
	// 50, measured with edgebench against 100 (2026-12-06, 5db3522, GOGC
	// set on the subprocess gateway, alternate runs, 2 cores): 10,000
	// series at 10k msg/s peaked at 91–100 MiB instead of 114–116 at the
	// same CPU per reading; the peers load at 25k msg/s at 47–53 MiB
	// instead of 59–68 (CPU +2%, within run-to-run noise); 10,000 series
	// at 50k msg/s at 88–93 MiB instead of 113–117 for 6% more CPU. At
	// 25 the 10k-series peak fell to 80 MiB but CPU rose by a quarter or
	// more.
	DefaultGCPercent = 50
	// GCPercentMin and GCPercentMax bound gateway.gc_percent: below 10 the
	// collector runs almost continuously; above 1000 the heap can grow to
	// ten times the live heap, which a memory_limit-sized device cannot hold.
	GCPercentMin, GCPercentMax = 10, 1000
	// DefaultBufferMaxBytes is buffer.max_bytes where the disk allows it;
	// on smaller storage the default is BufferMaxBytesFor the storage limit.
	DefaultBufferMaxBytes = 1 << 30
	// DeadLetterMaxBytes is what the dead-letter stream (EDGEPLANE_DEADLETTER)
	// reserves of JetStream's storage; it exists only when a source has
	// dead_letter on.
	DeadLetterMaxBytes     = 64 << 20
	DefaultBufferMaxAge    = 7 * 24 * time.Hour
	DefaultDuplicateWindow = 2 * time.Minute
	DefaultCompression     = "zstd"
	DefaultDeliveryTimeout = 30 * time.Second
	DefaultKeepAlive       = 30 * time.Second
	DefaultPingTimeout     = 10 * time.Second
	DefaultMaxUnacked      = 1024
	DefaultPendingMsgs     = 65536
	DefaultPendingBytes    = 64 << 20
	DefaultWSPath          = "/"
	DefaultWSMaxFrame      = 65536
	DefaultWSMaxConns      = 1024
	DefaultWSIdleTimeout   = 5 * time.Minute
	DefaultWindowSize      = time.Minute
	DefaultOutOfOrderness  = 5 * time.Second
	DefaultIdleTimeout     = 30 * time.Second
	// DefaultWatermarkScope is window.watermark's default: per-series time.
	DefaultWatermarkScope = operators.SeriesScope
	DefaultMaxOpenWindows = 16
	DefaultMaxSeries      = 10000
	DefaultRingCapacity   = 8192
	DefaultShards         = 1
)

// DefaultAggregates is the aggregate list of a pipeline that names none.
var DefaultAggregates = []string{"count", "sum", "min", "max", "mean"}

// ApplyDefaults fills every option left out of the file with its
// documented default. An option written in the file keeps its value, zero
// included (out_of_orderness: 0s is a bound of 0; size: 0s is an error
// validation reports). On a Config built in Go, which has no positions, a
// zero option is taken as left out.
func (c *Config) ApplyDefaults(hostname string) {
	d := defaulter{c: c}
	g := &c.Gateway
	str(d, "gateway.id", &g.ID, hostname)
	str(d, "gateway.data_dir", &g.DataDir, DefaultDataDir)
	str(d, "gateway.http_listen", &g.HTTPListen, DefaultHTTPListen)
	str(d, "gateway.log_level", &g.LogLevel, DefaultLogLevel)
	dur(d, "gateway.shutdown_timeout", &g.ShutdownTimeout, DefaultShutdownTimeout)
	str(d, "gateway.telemetry_topic", &g.TelemetryTopic, DefaultTelemetryTopic)
	dur(d, "gateway.telemetry_interval", &g.TelemetryInterval, DefaultTelemetryEvery)
	if d.unset("gateway.memory_limit", g.MemoryLimit == 0) {
		g.MemoryLimit = DefaultMemoryLimit
	}
	num(d, "gateway.gc_percent", &g.GCPercent, DefaultGCPercent)

	b := &c.NATS.Buffer
	if d.unset("nats.buffer.max_bytes", b.MaxBytes == 0) {
		b.MaxBytes = c.defaultBufferMaxBytes()
		c.bufferDerived = true
	}
	dur(d, "nats.buffer.max_age", &b.MaxAge, DefaultBufferMaxAge)
	str(d, "nats.buffer.sync", &b.Sync, "default")
	dur(d, "nats.buffer.duplicate_window", &b.DuplicateWindow, DefaultDuplicateWindow)

	k := &c.Kafka
	str(d, "kafka.client_id", &k.ClientID, "edgeplane-"+g.ID)
	str(d, "kafka.compression", &k.Compression, DefaultCompression)
	dur(d, "kafka.delivery_timeout", &k.DeliveryTimeout, DefaultDeliveryTimeout)
	dur(d, "kafka.stall_after", &k.StallAfter, sink.DefaultStallAfter)

	for i := range c.Sources {
		s := &c.Sources[i]
		at := fmt.Sprintf("sources[%d]", i)
		dc := &s.Decode
		num(d, at+".decode.max_payload", &dc.MaxPayload, decode.DefaultMaxPayload)
		dur(d, at+".decode.max_time_skew", &dc.MaxSkew, decode.DefaultMaxSkew)
		dur(d, at+".decode.max_future", &dc.MaxFuture, decode.DefaultMaxFuture)
		for j := range dc.Fields {
			str(d, fmt.Sprintf("%s.decode.fields[%d].path", at, j), &dc.Fields[j].Path, dc.Fields[j].Name)
		}
		switch s.Type {
		case SourceMQTT:
			m := &s.MQTT
			at := at + ".mqtt"
			str(d, at+".broker", &m.Broker, "embedded")
			str(d, at+".client_id", &m.ClientID, "edgeplane-"+g.ID+"-"+s.Name)
			if !c.Has(at + ".qos") {
				m.QoS = 1
			}
			dur(d, at+".keep_alive", &m.KeepAlive, DefaultKeepAlive)
			num(d, at+".connections", &m.Connections, 1)
			num(d, at+".max_unacked", &m.MaxUnacked, DefaultMaxUnacked)
			dur(d, at+".ping_timeout", &m.PingTimeout, DefaultPingTimeout)
			dur(d, at+".stale_timeout", &m.StaleTimeout, (m.KeepAlive*3/2 + m.PingTimeout).D())
		case SourceEmbedded:
			e := &s.Embedded
			at := at + ".embedded"
			num(d, at+".subscribers", &e.Subscribers, 1)
			num(d, at+".pending_msgs", &e.PendingMsgs, DefaultPendingMsgs)
			num(d, at+".pending_bytes", &e.PendingBytes, DefaultPendingBytes)
		case SourceWebSocket:
			w := &s.WebSocket
			at := at + ".websocket"
			str(d, at+".path", &w.Path, DefaultWSPath)
			num(d, at+".max_frame", &w.MaxFrame, DefaultWSMaxFrame)
			num(d, at+".max_conns", &w.MaxConns, DefaultWSMaxConns)
			dur(d, at+".idle_timeout", &w.IdleTimeout, DefaultWSIdleTimeout)
		}
	}
	for i := range c.Pipelines {
		p := &c.Pipelines[i]
		at := fmt.Sprintf("pipelines[%d]", i)
		w := &p.Window
		if w.Type != record.Session {
			dur(d, at+".window.size", &w.Size, DefaultWindowSize)
		}
		if w.Time == operators.EventTime {
			dur(d, at+".window.out_of_orderness", &w.OutOfOrderness, DefaultOutOfOrderness)
		}
		dur(d, at+".window.idle_timeout", &w.IdleTimeout, DefaultIdleTimeout)
		if d.unset(at+".window.watermark", w.Watermark == operators.PipelineScope) {
			w.Watermark = DefaultWatermarkScope
		}
		num(d, at+".window.max_open_windows", &w.MaxOpenWindows, DefaultMaxOpenWindows)
		if !c.Has(at+".aggregates") && len(p.Aggregates) == 0 {
			p.Aggregates = append([]string(nil), DefaultAggregates...)
		}
		num(d, at+".max_series", &p.MaxSeries, DefaultMaxSeries)
		num(d, at+".ring.capacity", &p.Ring.Capacity, DefaultRingCapacity)
		num(d, at+".ring.shards", &p.Ring.Shards, DefaultShards)
		str(d, at+".to.topic", &p.To.Topic, "edgeplane."+p.Name)
	}
}

// defaulter applies a default to an option left out of the file.
type defaulter struct{ c *Config }

// unset reports whether the option at path takes its default: it is not
// in the file and (for a Config built in Go) it is zero.
func (d defaulter) unset(path string, zero bool) bool { return zero && !d.c.Has(path) }

func str(d defaulter, path string, v *string, def string) {
	if d.unset(path, *v == "") {
		*v = def
	}
}

func num[T ~int | ~int64](d defaulter, path string, v *T, def T) {
	if d.unset(path, *v == 0) {
		*v = def
	}
}

func dur(d defaulter, path string, v *Duration, def time.Duration) {
	if d.unset(path, *v == 0) {
		*v = Duration(def)
	}
}
