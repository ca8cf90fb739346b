package pipeline

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/edgeplane/edgeplane/decode"

	"github.com/VictoriaMetrics/metrics"

	"github.com/edgeplane/edgeplane/ingest"
	"github.com/edgeplane/edgeplane/sink"
)

// metric is one exported series: its full name with labels, built once,
// and how to read it.
type metric struct {
	name    string
	counter bool
	read    func() float64
}

// gatewayMetrics exports the stages' counters in Prometheus text format,
// named edgeplane_<stage>_<what>[_total|_seconds|_bytes].
type gatewayMetrics struct {
	g      *Gateway
	listMu sync.Mutex
	list   []metric

	mu        sync.Mutex
	buf       bufferSnapshot
	bufReadAt time.Time
}

type bufferSnapshot struct {
	messages, bytes   float64
	oldestAge         float64
	aggregates, late  float64
	droppedFrames     float64
	droppedAggregates float64
	droppedLate       float64
	ok                bool
}

func label(k, v string) string { return k + `="` + escapeLabel(v) + `"` }

func escapeLabel(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '"':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func u(f func() uint64) func() float64 { return func() float64 { return float64(f()) } }

func newGatewayMetrics(g *Gateway) *gatewayMetrics {
	m := &gatewayMetrics{g: g}
	m.rebuild()
	return m
}

// rebuild makes the list of exported series from the gateway's current
// sources and pipelines; Reload calls it with g.mu held.
func (m *gatewayMetrics) rebuild() {
	g := m.g
	var list []metric
	c := func(name string, f func() uint64) { list = append(list, metric{name: name, counter: true, read: u(f)}) }
	ga := func(name string, f func() float64) { list = append(list, metric{name: name, read: f}) }

	for _, sr := range g.sources {
		l := "{" + label("source", sr.cfg.Name) + "}"
		st := func() *ingest.SourceStats {
			if sr.src == nil {
				return &ingest.SourceStats{}
			}
			return sr.src.SourceStats()
		}
		c("edgeplane_ingest_messages_total"+l, func() uint64 { return st().Messages.Load() })
		c("edgeplane_ingest_readings_total"+l, func() uint64 { return st().Readings.Load() })
		for r := decode.ReasonNone + 1; r < decode.NumReasons; r++ {
			r := r
			lr := "{" + label("source", sr.cfg.Name) + "," + label("reason", r.String()) + "}"
			c("edgeplane_ingest_rejected_total"+lr, func() uint64 { return st().Rejected[r].Load() })
		}
		c("edgeplane_ingest_records_total"+l, func() uint64 { return st().Records.Load() })
		c("edgeplane_ingest_abandoned_total"+l, func() uint64 { return st().Abandoned.Load() })
		c("edgeplane_ingest_dropped_total"+l, func() uint64 { return st().Dropped.Load() })
		c("edgeplane_ingest_dead_lettered_total"+l, func() uint64 { return st().DeadLettered.Load() })
		c("edgeplane_ingest_stale_reconnects_total"+l, func() uint64 { return st().Stale.Load() })
		c("edgeplane_ingest_ack_waits_total"+l, func() uint64 { return st().AckWaits.Load() })
		ga("edgeplane_ingest_unacked"+l, func() float64 { return float64(st().Unacked.Load()) })
		ga("edgeplane_ingest_connections"+l, func() float64 { return float64(st().Connections.Load()) })
		c("edgeplane_ingest_connects_total"+l, func() uint64 { return st().Connects.Load() })
		c("edgeplane_ingest_connection_lost_total"+l, func() uint64 { return st().ConnLost.Load() })
		ga("edgeplane_ingest_connected"+l, func() float64 {
			if st().Connected.Load() {
				return 1
			}
			return 0
		})
	}
	for _, p := range g.pipes {
		p := p
		l := "{" + label("pipeline", p.cfg.Name) + "}"
		c("edgeplane_ingest_series_refused_total"+l, p.seriesRefused.Load)
		c("edgeplane_ingest_replayed_total"+l, p.replayed.Load)
		ga("edgeplane_sink_stored_watermark_seconds"+l, func() float64 { return float64(p.storedWM()) / 1e3 })
		ga("edgeplane_ingest_series"+l, func() float64 { return float64(p.series.Len()) })
		c("edgeplane_ring_dropped_total"+l, p.ringDropped)
		c("edgeplane_ring_closed_refused_total"+l, p.ringClosed.Load)
		ga("edgeplane_ring_depth"+l, func() float64 {
			n := 0
			for _, r := range p.rings {
				n += r.Len()
			}
			return float64(n)
		})
		c("edgeplane_operators_samples_total"+l, func() uint64 { return p.shardStats().SamplesIn })
		c("edgeplane_operators_late_events_total"+l, func() uint64 { return p.shardStats().Late })
		c("edgeplane_operators_filtered_total"+l, func() uint64 { return p.shardStats().Filtered })
		c("edgeplane_operators_deduped_total"+l, func() uint64 { return p.shardStats().Deduped })
		c("edgeplane_operators_deadbanded_total"+l, func() uint64 { return p.shardStats().Deadbanded })
		c("edgeplane_operators_late_accepted_total"+l, func() uint64 { return p.shardStats().LateAccepted })
		c("edgeplane_operators_windows_fired_total"+l, func() uint64 { return p.shardStats().Emitted })
		c("edgeplane_operators_windows_refired_total"+l, func() uint64 { return p.shardStats().Refired })
		c("edgeplane_operators_refused_total"+l, func() uint64 {
			s := p.shardStats()
			return s.RefusedSeries + s.RefusedWindows
		})
		ga("edgeplane_operators_open_windows"+l, func() float64 { return float64(p.shardStats().OpenSlots) })
		ga("edgeplane_operators_watermark_seconds"+l, func() float64 { return float64(p.shardStats().Watermark) / 1e3 })
		c("edgeplane_sink_aggregates_buffered_total"+l, p.wstats.Aggregates.Load)
		c("edgeplane_sink_frames_buffered_total"+l, p.wstats.Frames.Load)
		c("edgeplane_sink_publish_retries_total"+l, p.wstats.Retries.Load)
		c("edgeplane_sink_push_back_total"+l, p.wstats.PushBackWaits.Load)
		c("edgeplane_sink_aggregates_lost_on_shutdown_total"+l, p.wstats.LostOnShutdown.Load)
		c("edgeplane_sink_frame_bytes_total"+l, p.wstats.Bytes.Load)
		c("edgeplane_sink_late_events_buffered_total"+l, p.lateStats.Aggregates.Load)
	}
	fw := func() *sinkFwdStats { return m.fwdStats() }
	c("edgeplane_sink_kafka_records_total", func() uint64 { return fw().records })
	c("edgeplane_sink_kafka_errors_total", func() uint64 { return fw().recordErrors })
	c("edgeplane_sink_kafka_bytes_total", func() uint64 { return fw().bytes })
	c("edgeplane_sink_forwarded_frames_total", func() uint64 { return fw().frames })
	c("edgeplane_sink_forward_naks_total", func() uint64 { return fw().naks })
	c("edgeplane_sink_bad_frames_total", func() uint64 { return fw().badFrames })
	fwd := func(f func(*sink.ForwarderStats) uint64) func() uint64 {
		return func() uint64 {
			if g.fwd == nil {
				return 0
			}
			return f(&g.fwd.Stats)
		}
	}
	for _, e := range []struct {
		kind string
		f    func(*sink.ForwarderStats) uint64
	}{
		{"timeout", func(s *sink.ForwarderStats) uint64 { return s.Errors.Timeout.Load() }},
		{"network", func(s *sink.ForwarderStats) uint64 { return s.Errors.Network.Load() }},
		{"retriable", func(s *sink.ForwarderStats) uint64 { return s.Errors.Retriable.Load() }},
		{"auth", func(s *sink.ForwarderStats) uint64 { return s.Errors.Auth.Load() }},
		{"rejected", func(s *sink.ForwarderStats) uint64 { return s.Errors.Rejected.Load() }},
		{"other", func(s *sink.ForwarderStats) uint64 { return s.Errors.Other.Load() }},
	} {
		c("edgeplane_sink_kafka_errors_by_type_total{"+label("type", e.kind)+"}", fwd(e.f))
	}
	c("edgeplane_sink_forwarded_items_total", fwd(func(s *sink.ForwarderStats) uint64 { return s.Items.Load() }))
	c("edgeplane_sink_ack_errors_total", fwd(func(s *sink.ForwarderStats) uint64 { return s.AckErrors.Load() }))
	ga("edgeplane_sink_drain_rate", func() float64 {
		if g.fwd == nil {
			return 0
		}
		return g.fwd.Stats.DrainRate()
	})
	ga("edgeplane_sink_buffer_aggregates", func() float64 { return m.buffer().aggregates })
	ga("edgeplane_sink_buffer_late_events", func() float64 { return m.buffer().late })
	c("edgeplane_sink_buffer_dropped_frames_total", func() uint64 { return uint64(m.buffer().droppedFrames) })
	c("edgeplane_sink_buffer_dropped_aggregates_total", func() uint64 { return uint64(m.buffer().droppedAggregates) })
	c("edgeplane_sink_buffer_dropped_late_events_total", func() uint64 { return uint64(m.buffer().droppedLate) })
	ga("edgeplane_sink_buffer_messages", func() float64 { return m.buffer().messages })
	ga("edgeplane_sink_buffer_bytes", func() float64 { return m.buffer().bytes })
	ga("edgeplane_sink_buffer_oldest_age_seconds", func() float64 { return m.buffer().oldestAge })
	ga("edgeplane_gateway_uptime_seconds", func() float64 {
		if g.started.IsZero() {
			return 0
		}
		return time.Since(g.started).Seconds()
	})
	c("edgeplane_ingest_dead_letters_published_total", g.dead.sent.Load)
	c("edgeplane_ingest_dead_letters_dropped_total", func() uint64 { return g.dead.dropped.Load() + g.dead.failed.Load() })
	c("edgeplane_gateway_reloads_total", g.reloads.Load)
	c("edgeplane_gateway_telemetry_sent_total", g.telemetrySent.Load)
	c("edgeplane_gateway_telemetry_failed_total", g.telemetryFailed.Load)
	c("edgeplane_gateway_reload_failures_total", g.reloadFailures.Load)
	m.listMu.Lock()
	m.list = list
	m.listMu.Unlock()
}

type sinkFwdStats struct{ records, recordErrors, bytes, frames, naks, badFrames uint64 }

func (m *gatewayMetrics) fwdStats() *sinkFwdStats {
	f := m.g.fwd
	if f == nil {
		return &sinkFwdStats{}
	}
	return &sinkFwdStats{
		records: f.Stats.Records.Load(), recordErrors: f.Stats.RecordErrors.Load(), bytes: f.Stats.Bytes.Load(),
		frames: f.Stats.Frames.Load(), naks: f.Stats.Naks.Load(), badFrames: f.Stats.BadFrames.Load(),
	}
}

// buffer reads the stream's state at most every 500 ms.
func (m *gatewayMetrics) buffer() bufferSnapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	if time.Since(m.bufReadAt) < 500*time.Millisecond || m.g.buf == nil {
		return m.buf
	}
	m.bufReadAt = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	st, err := m.g.buf.State(ctx)
	if err != nil {
		m.buf.ok = false
		return m.buf
	}
	m.buf = bufferSnapshot{messages: float64(st.Messages), bytes: float64(st.Bytes), oldestAge: st.OldestAge.Seconds(),
		aggregates: float64(st.Aggregates), late: float64(st.LateEvents),
		droppedFrames: float64(st.DroppedFrames), droppedAggregates: float64(st.DroppedAggregates),
		droppedLate: float64(st.DroppedLateEvents), ok: true}
	return m.buf
}

func (m *gatewayMetrics) write(w io.Writer) {
	m.listMu.Lock()
	list := m.list
	m.listMu.Unlock()
	for _, x := range list {
		if x.counter {
			metrics.WriteCounterFloat64(w, x.name, x.read())
		} else {
			metrics.WriteGaugeFloat64(w, x.name, x.read())
		}
	}
	m.g.latency.write(w)
	metrics.WriteProcessMetrics(w)
}

// Handler serves /metrics (Prometheus text), /healthz (the process is
// alive: 200) and /readyz (200 when every source is connected, JetStream
// is ready and Kafka is reachable or the backlog is within limits; 503
// with the reasons otherwise, as JSON).
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		g.m.write(w)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		r := g.Ready()
		w.Header().Set("Content-Type", "application/json")
		if !r.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(r)
	})
	return mux
}

// Readiness is the /readyz answer.
type Readiness struct {
	Ready    bool     `json:"ready"`
	Problems []string `json:"problems,omitempty"`
}

// Ready reports whether the gateway is doing its job.
func (g *Gateway) Ready() Readiness {
	g.mu.Lock()
	defer g.mu.Unlock()
	var r Readiness
	for _, sr := range g.sources {
		if sr.src == nil || !sr.src.Connected() {
			r.Problems = append(r.Problems, "source "+sr.cfg.Name+" is not connected")
		}
	}
	if g.ns == nil || !g.ns.JetStreamReady() {
		r.Problems = append(r.Problems, "jetstream is not ready")
	}
	if g.fwd != nil && g.fwd.Stats.Failing.Load() {
		b := g.m.buffer()
		limit := float64(g.cfg.NATS.Buffer.MaxBytes) * 0.9
		if !b.ok || b.bytes >= limit {
			r.Problems = append(r.Problems, "kafka is unreachable and the buffer is at "+strconv.FormatFloat(b.bytes, 'f', 0, 64)+" bytes (90% of max_bytes)")
		}
	}
	r.Ready = len(r.Problems) == 0
	return r
}

// Snapshot is a point-in-time summary for status displays.
type Snapshot struct {
	Messages, Readings, Rejected uint64
	SeriesRefused, RingDropped   uint64
	Late, WindowsFired           uint64
	AggregatesBuffered           uint64
	KafkaRecords, KafkaErrors    uint64
	BufferMessages, BufferBytes  uint64
}

// Snapshot sums the counters of all sources and pipelines.
func (g *Gateway) Snapshot() Snapshot {
	g.mu.Lock()
	defer g.mu.Unlock()
	var s Snapshot
	for _, sr := range g.sources {
		if sr.src == nil {
			continue
		}
		st := sr.src.SourceStats()
		s.Messages += st.Messages.Load()
		s.Readings += st.Readings.Load()
		s.Rejected += st.RejectedTotal()
	}
	for _, p := range g.pipes {
		ss := p.shardStats()
		s.SeriesRefused += p.seriesRefused.Load()
		s.RingDropped += p.ringDropped()
		s.Late += ss.Late
		s.WindowsFired += ss.Emitted
		s.AggregatesBuffered += p.wstats.Aggregates.Load()
	}
	f := g.m.fwdStats()
	s.KafkaRecords, s.KafkaErrors = f.records, f.recordErrors
	b := g.m.buffer()
	s.BufferMessages, s.BufferBytes = uint64(b.messages), uint64(b.bytes)
	return s
}
