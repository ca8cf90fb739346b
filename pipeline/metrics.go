package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/edgeplane/edgeplane/config"

	"github.com/edgeplane/edgeplane/decode"

	"github.com/VictoriaMetrics/metrics"

	"github.com/edgeplane/edgeplane/ingest"
	"github.com/edgeplane/edgeplane/sink"
)

// series is one exported series: its family's name, type and help text,
// its labels rendered once, and how to read its value.
type series struct {
	name, typ, help string
	labels          string
	read            func() string
}

// gatewayMetrics exports the stages' counters in Prometheus text format,
// named edgeplane_<stage>_<what>[_total|_seconds|_bytes], with one HELP
// and one TYPE line per family (see exposition).
type gatewayMetrics struct {
	g      *Gateway
	listMu sync.Mutex
	list   []series

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

func newGatewayMetrics(g *Gateway) *gatewayMetrics {
	m := &gatewayMetrics{g: g}
	m.rebuild()
	return m
}

// rebuild makes the list of exported series from the gateway's current
// sources and pipelines; Reload calls it with g.mu held.
func (m *gatewayMetrics) rebuild() {
	g := m.g
	var list []series
	// c adds a counter, ga a gauge; lbl is "" or labels(…).
	c := func(name, lbl, help string, f func() uint64) {
		list = append(list, series{name: name, typ: "counter", help: help, labels: lbl, read: func() string { return formatUint(f()) }})
	}
	ga := func(name, lbl, help string, f func() float64) {
		list = append(list, series{name: name, typ: "gauge", help: help, labels: lbl, read: func() string { return formatFloat(f()) }})
	}
	// gb adds a gauge of bytes, written as an integer.
	gb := func(name, lbl, help string, n int64) {
		list = append(list, series{name: name, typ: "gauge", help: help, labels: lbl, read: func() string { return formatUint(uint64(n)) }})
	}

	for _, sr := range g.sources {
		l := labels("source", sr.cfg.Name)
		st := func() *ingest.SourceStats {
			if !g.up.Load() || sr.src == nil {
				return &ingest.SourceStats{}
			}
			return sr.src.SourceStats()
		}
		c("edgeplane_ingest_messages_total", l, "Messages the source received (MQTT or NATS messages, WebSocket frames).", func() uint64 { return st().Messages.Load() })
		c("edgeplane_ingest_readings_total", l, "Readings the source delivered to its pipelines.", func() uint64 { return st().Readings.Load() })
		for r := decode.ReasonNone + 1; r < decode.NumReasons; r++ {
			c("edgeplane_ingest_rejected_total", labels("source", sr.cfg.Name, "reason", r.String()),
				"Records the source rejected, by reason.", func() uint64 { return st().Rejected[r].Load() })
		}
		c("edgeplane_ingest_records_total", l, "Records in the source's messages: accepted plus rejected.", func() uint64 { return st().Records.Load() })
		c("edgeplane_ingest_abandoned_total", l, "Messages the source neither delivered nor acknowledged (held acks); the broker redelivers them.", func() uint64 { return st().Abandoned.Load() })
		c("edgeplane_ingest_dropped_total", l, "Messages of the source lost before decoding (NATS slow-consumer drops).", func() uint64 { return st().Dropped.Load() })
		c("edgeplane_ingest_dead_lettered_total", l, "Rejected records the source passed to the dead-letter queue.", func() uint64 { return st().DeadLettered.Load() })
		c("edgeplane_ingest_stale_reconnects_total", l, "Connections of the source the watchdog closed because nothing arrived within the stale timeout.", func() uint64 { return st().Stale.Load() })
		c("edgeplane_ingest_ack_waits_total", l, "Times a receive goroutine of the source waited because max_unacked messages were held.", func() uint64 { return st().AckWaits.Load() })
		ga("edgeplane_ingest_unacked", l, "Messages the source holds unacknowledged (held acks).", func() float64 { return float64(st().Unacked.Load()) })
		ga("edgeplane_ingest_connections", l, "Connections of the source that are up: broker connections, NATS subscriptions or WebSocket clients.", func() float64 { return float64(st().Connections.Load()) })
		c("edgeplane_ingest_connects_total", l, "Successful connections of the source, reconnects included.", func() uint64 { return st().Connects.Load() })
		c("edgeplane_ingest_connection_lost_total", l, "Connections of the source lost.", func() uint64 { return st().ConnLost.Load() })
		ga("edgeplane_ingest_connected", l, "1 while every connection of the source is up, else 0.", func() float64 {
			if st().Connected.Load() {
				return 1
			}
			return 0
		})
	}
	for _, p := range g.pipes {
		l := labels("pipeline", p.cfg.Name)
		c("edgeplane_ingest_series_refused_total", l, "Readings the pipeline refused because its series table is full.", p.seriesRefused.Load)
		c("edgeplane_ingest_replayed_total", l, "Redelivered readings the pipeline dropped after a restart or a reconnect of the source because their windows were already stored (held acks).", p.replayed.Load)
		ga("edgeplane_sink_stored_watermark_seconds", l, "Event time up to which the pipeline's aggregates are stored in JetStream, in seconds since the Unix epoch.",
			func() float64 { return float64(p.storedWM()) / 1e3 })
		ga("edgeplane_ingest_series", l, "Series known to the pipeline's series table.", func() float64 { return float64(p.series.Len()) })
		c("edgeplane_ring_dropped_total", l, "Readings a ring of the pipeline dropped by its full-ring policy.", p.ringDropped)
		c("edgeplane_ring_closed_refused_total", l, "Readings that arrived after the pipeline's rings closed (shutdown).", p.ringClosed.Load)
		ga("edgeplane_ring_depth", l, "Samples waiting in the pipeline's rings.", func() float64 {
			n := 0
			for _, r := range p.rings {
				n += r.Len()
			}
			return float64(n)
		})
		c("edgeplane_operators_samples_total", l, "Samples the pipeline's operator shards processed.", func() uint64 { return p.shardStats().SamplesIn })
		c("edgeplane_operators_late_events_total", l, "Samples of the pipeline that no window accepted (late events).", func() uint64 { return p.shardStats().Late })
		c("edgeplane_operators_filtered_total", l, "Samples a filter of the pipeline dropped.", func() uint64 { return p.shardStats().Filtered })
		c("edgeplane_operators_deduped_total", l, "Duplicate samples the pipeline's dedup dropped.", func() uint64 { return p.shardStats().Deduped })
		c("edgeplane_operators_deadbanded_total", l, "Samples a deadband of the pipeline suppressed.", func() uint64 { return p.shardStats().Deadbanded })
		c("edgeplane_operators_late_accepted_total", l, "Samples behind the pipeline's watermark for a window that were still accepted (allowed lateness).", func() uint64 { return p.shardStats().LateAccepted })
		c("edgeplane_operators_windows_fired_total", l, "Aggregates the pipeline emitted.", func() uint64 { return p.shardStats().Emitted })
		c("edgeplane_operators_windows_refired_total", l, "Aggregates the pipeline emitted again for a window already fired (revision > 0).", func() uint64 { return p.shardStats().Refired })
		c("edgeplane_operators_sketches_refused_total", l, "Windows (or panes) of the pipeline that found the quantile sketch pool empty: their aggregates carry no quantiles. The pool is sized from memory_limit's budget (operators.Config.SketchBudget).", func() uint64 { return p.shardStats().SketchRefused })
		c("edgeplane_operators_refused_total", l, "Samples the pipeline's shards refused: at their series, open-window or state limits, or for an event time, field or source out of range.", func() uint64 { return p.shardStats().Refused() })
		ga("edgeplane_operators_open_windows", l, "Window (or pane) slots in use in the pipeline's shards.", func() float64 { return float64(p.shardStats().OpenSlots) })
		ga("edgeplane_operators_watermark_seconds", l, "The pipeline's watermark (event time), in seconds since the Unix epoch; in series scope the lowest watermark of the series that are not idle.", func() float64 { return float64(p.shardStats().Watermark) / 1e3 })
		ga("edgeplane_pipeline_watermark_lag_seconds", l, "Wall clock minus the pipeline's current watermark, in seconds; in series scope the largest lag over the series that are not idle. NaN before there is one.", func() float64 { return p.watermarkLag(time.Now()) })
		ga("edgeplane_pipeline_series_idle", l, "Series scope: series with data that sent nothing for window.idle_timeout (their watermark follows the wall clock).", func() float64 { return float64(p.shardStats().SeriesIdle) })
		ga("edgeplane_pipeline_series_active", l, "Series scope: series that sent within window.idle_timeout.", func() float64 { return float64(p.shardStats().SeriesActive) })
		c("edgeplane_sink_aggregates_buffered_total", l, "Aggregates of the pipeline acknowledged into the JetStream buffer.", p.wstats.Aggregates.Load)
		c("edgeplane_sink_frames_buffered_total", l, "Frames of the pipeline acknowledged into the JetStream buffer.", p.wstats.Frames.Load)
		c("edgeplane_sink_publish_retries_total", l, "JetStream publish attempts of the pipeline that failed and were retried.", p.wstats.Retries.Load)
		c("edgeplane_sink_push_back_total", l, "Publish retries of the pipeline because the JetStream buffer was full (push_back).", p.wstats.PushBackWaits.Load)
		c("edgeplane_sink_store_waits_total", l, "Publish retries of the pipeline because the JetStream buffer's store had failed (a full disk).", p.wstats.StoreWaits.Load)
		c("edgeplane_sink_aggregates_lost_on_shutdown_total", l, "Aggregates of the pipeline never acknowledged into JetStream because the writer was cancelled.", p.wstats.LostOnShutdown.Load)
		c("edgeplane_sink_frame_bytes_total", l, "Frame bytes of the pipeline acknowledged into the JetStream buffer.", p.wstats.Bytes.Load)
		c("edgeplane_sink_late_events_buffered_total", l, "Late events of the pipeline acknowledged into the JetStream buffer.", p.lateStats.Aggregates.Load)
	}
	fw := func() *sinkFwdStats { return m.fwdStats() }
	c("edgeplane_sink_kafka_records_total", "", "Kafka records acknowledged by the brokers.", func() uint64 { return fw().records })
	c("edgeplane_sink_kafka_bytes_total", "", "Record key and value bytes handed to Kafka.", func() uint64 { return fw().bytes })
	c("edgeplane_sink_forwarded_frames_total", "", "Frames fully delivered to Kafka and acknowledged in JetStream.", func() uint64 { return fw().frames })
	c("edgeplane_sink_forward_naks_total", "", "Frames nak'ed in JetStream for redelivery to Kafka.", func() uint64 { return fw().naks })
	c("edgeplane_sink_bad_frames_total", "", "Frames in JetStream that could not be decoded.", func() uint64 { return fw().badFrames })
	fwd := func(f func(*sink.ForwarderStats) uint64) func() uint64 {
		return func() uint64 {
			if !g.up.Load() || g.fwd == nil {
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
		c("edgeplane_sink_kafka_errors_total", labels("type", e.kind),
			"Failed attempts to deliver to Kafka, by cause: connections and produce requests the client retried, and records that failed (their frame is redelivered).", fwd(e.f))
	}
	c("edgeplane_sink_forwarded_items_total", "", "Aggregates and late events delivered to Kafka.", fwd(func(s *sink.ForwarderStats) uint64 { return s.Items.Load() }))
	c("edgeplane_sink_ack_errors_total", "", "Frames delivered to Kafka whose JetStream ack failed (redelivered: duplicates in Kafka).",
		fwd(func(s *sink.ForwarderStats) uint64 { return s.AckErrors.Load() }))
	ga("edgeplane_sink_drain_rate", "", "Aggregates and late events delivered to Kafka per second, averaged over 5 s.", func() float64 {
		if !g.up.Load() || g.fwd == nil {
			return 0
		}
		return g.fwd.Stats.DrainRate()
	})
	ga("edgeplane_sink_buffer_aggregates", "", "Aggregates in the JetStream buffer.", func() float64 { return m.buffer().aggregates })
	ga("edgeplane_sink_buffer_late_events", "", "Late events in the JetStream buffer.", func() float64 { return m.buffer().late })
	c("edgeplane_sink_buffer_dropped_frames_total", "", "Frames the JetStream buffer's limits removed before delivery.", func() uint64 { return uint64(m.buffer().droppedFrames) })
	c("edgeplane_sink_buffer_dropped_aggregates_total", "", "Aggregates the JetStream buffer's limits removed before delivery.", func() uint64 { return uint64(m.buffer().droppedAggregates) })
	c("edgeplane_sink_buffer_dropped_late_events_total", "", "Late events the JetStream buffer's limits removed before delivery.", func() uint64 { return uint64(m.buffer().droppedLate) })
	ga("edgeplane_sink_buffer_messages", "", "Frames in the JetStream buffer.", func() float64 { return m.buffer().messages })
	ga("edgeplane_sink_buffer_bytes", "", "Bytes in the JetStream buffer.", func() float64 { return m.buffer().bytes })
	ga("edgeplane_sink_buffer_oldest_age_seconds", "", "Age of the oldest frame in the JetStream buffer.", func() float64 { return m.buffer().oldestAge })
	storeCount := func(i int) func() uint64 {
		return func() uint64 {
			if !g.up.Load() || g.buf == nil { // Start writes g.buf
				return 0
			}
			f, r, s := g.buf.StoreCounts()
			return [3]uint64{f, r, s}[i]
		}
	}
	c("edgeplane_sink_buffer_store_failures_total", "", "Times the JetStream buffer's store failed to write (a full disk) and refused frames until reopened.", storeCount(0))
	c("edgeplane_sink_buffer_store_refused_total", "", "Frames the JetStream buffer refused while its store had failed (the writers retry them).", storeCount(1))
	c("edgeplane_sink_buffer_store_resets_total", "", "Times the JetStream buffer's failed store was reopened and stored again.", storeCount(2))
	ga("edgeplane_gateway_uptime_seconds", "", "Time since the gateway started.", func() float64 {
		if !g.up.Load() {
			return 0
		}
		return time.Since(g.started).Seconds()
	})
	c("edgeplane_ingest_dead_letters_published_total", "", "Rejected messages published to the dead-letter subject.", g.dead.sent.Load)
	c("edgeplane_ingest_dead_letters_dropped_total", "", "Rejected messages not published to the dead-letter subject (queue full or publish failed).",
		func() uint64 { return g.dead.dropped.Load() + g.dead.failed.Load() })
	c("edgeplane_gateway_reloads_total", "", "Config reloads applied.", g.reloads.Load)
	c("edgeplane_gateway_telemetry_sent_total", "", "Status telemetry events sent to Kafka.", g.telemetrySent.Load)
	c("edgeplane_gateway_telemetry_failed_total", "", "Status telemetry events that could not be sent.", g.telemetryFailed.Load)
	c("edgeplane_gateway_reload_failures_total", "", "Config reloads refused (the file did not validate or did not apply).", g.reloadFailures.Load)
	var mem config.MemoryEstimate
	if g.plan != nil { // nil only in tests that build a bare Gateway
		mem = g.plan.Memory()
	}
	for _, pm := range mem.Pipelines {
		for _, part := range []struct {
			name string
			n    int64
		}{{"windows", pm.Windows()}, {"sketches", pm.Sketches()}, {"rings", pm.Rings()}} {
			gb("edgeplane_memory_state_bytes", labels("pipeline", pm.Name, "component", part.name),
				"Memory the pipeline preallocates, by component (windows: window slots and per-key state; sketches: the quantile sketch pool; rings: records with every producer lane taken), as validation estimates it against gateway.memory_limit.",
				part.n)
		}
	}
	gb("edgeplane_memory_fixed_bytes", "", "The part of the memory estimate that does not depend on the pipelines (runtime, nats-server, franz-go's produce buffer).", mem.Fixed)
	gb("edgeplane_memory_limit_bytes", "", "gateway.memory_limit; go_memlimit_bytes is the Go soft limit in effect (GOMEMLIMIT wins when set).", mem.Limit)
	m.listMu.Lock()
	m.list = list
	m.listMu.Unlock()
}

type sinkFwdStats struct{ records, recordErrors, bytes, frames, naks, badFrames uint64 }

func (m *gatewayMetrics) fwdStats() *sinkFwdStats {
	if !m.g.up.Load() || m.g.fwd == nil {
		return &sinkFwdStats{}
	}
	f := m.g.fwd
	return &sinkFwdStats{
		records: f.Stats.Records.Load(), recordErrors: f.Stats.RecordErrors.Load(), bytes: f.Stats.Bytes.Load(),
		frames: f.Stats.Frames.Load(), naks: f.Stats.Naks.Load(), badFrames: f.Stats.BadFrames.Load(),
	}
}

// buffer reads the stream's state at most every 500 ms.
func (m *gatewayMetrics) buffer() bufferSnapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	if time.Since(m.bufReadAt) < 500*time.Millisecond || !m.g.up.Load() || m.g.buf == nil {
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

// write writes every family once: the gateway's series, the Kafka latency
// histogram, then the library's Go runtime and process metrics.
func (m *gatewayMetrics) write(w io.Writer) error {
	m.listMu.Lock()
	list := m.list
	m.listMu.Unlock()
	var e exposition
	for _, s := range list {
		e.fam(s.name, s.typ, s.help).sample("", s.labels, s.read())
	}
	m.g.latency.collect(&e)
	var lib bytes.Buffer
	metrics.WriteProcessMetrics(&lib)
	metrics.WriteFDMetrics(&lib)
	e.addLibrary(lib.Bytes())
	return e.writeTo(w)
}

// Handler serves /metrics (Prometheus text), /healthz (the process is
// alive: 200) and /readyz (200 when every source is connected, JetStream
// is ready, Kafka is reachable or the backlog is within limits, and the
// forwarder is not stalled — nothing acknowledged by Kafka for
// kafka.stall_after while a backlog waits; 503 with the reasons
// otherwise, as JSON), and the read API under /v1/ (api.go), behind
// gateway.http_token when set. It may serve from New on, before and while
// Start runs: until Start has brought the gateway up, /readyz answers 503
// "starting: STEP".
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_ = g.m.write(w)
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
	g.registerAPI(mux, g.httpToken) // /v1/…: api.go
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
	if !g.up.Load() {
		step := g.startingStep()
		if step == "" {
			step = "not started"
		}
		r.Problems = append(r.Problems, "starting: "+step)
		return r
	}
	for _, sr := range g.sources {
		if sr.src == nil || !sr.src.Connected() {
			r.Problems = append(r.Problems, sr.notConnected())
		}
	}
	if g.ns == nil || !g.ns.JetStreamReady() {
		r.Problems = append(r.Problems, "jetstream is not ready")
	}
	if g.buf != nil {
		if failed, why := g.buf.StoreProblem(); failed {
			r.Problems = append(r.Problems, why)
		}
	}
	if g.fwd != nil {
		if stalled, why := g.fwd.Stall(); stalled {
			r.Problems = append(r.Problems, "kafka forwarding stalled: "+why)
		}
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

// notConnected says why sr is not ready: for an MQTT source, with its
// broker (credentials removed) and the dials that failed.
func (sr *sourceRun) notConnected() string {
	msg := "source " + sr.cfg.Name + " is not connected"
	if sr.mqtt == nil {
		return msg
	}
	msg += " to broker " + redactURL(sr.broker)
	if n := sr.mqtt.Stats.DialFailed.Load(); n > 0 {
		msg += " (" + strconv.FormatUint(n, 10) + " failed dials; retrying)"
	}
	return msg
}

// redactURL returns u with its password, if any, replaced by "xxxxx".
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)" // it might hold a password
	}
	return p.Redacted()
}

// Snapshot is a point-in-time summary for status displays.
type Snapshot struct {
	Messages, Readings, Rejected uint64
	// DialFailed counts failed broker dials of the MQTT sources.
	DialFailed                 uint64
	SeriesRefused, RingDropped uint64
	// OperatorsRefused and ClosedRefused are the readings counted in
	// edgeplane_operators_refused_total and
	// edgeplane_ring_closed_refused_total.
	OperatorsRefused, ClosedRefused uint64
	Late, WindowsFired              uint64
	AggregatesBuffered              uint64
	KafkaRecords, KafkaErrors       uint64
	BufferMessages, BufferBytes     uint64
}

// Snapshot sums the counters of all sources and pipelines.
func (g *Gateway) Snapshot() Snapshot {
	g.mu.Lock()
	defer g.mu.Unlock()
	var s Snapshot
	for _, sr := range g.sources {
		if !g.up.Load() || sr.src == nil {
			continue
		}
		st := sr.src.SourceStats()
		s.Messages += st.Messages.Load()
		s.Readings += st.Readings.Load()
		s.Rejected += st.RejectedTotal()
		s.DialFailed += st.DialFailed.Load()
	}
	for _, p := range g.pipes {
		ss := p.shardStats()
		s.SeriesRefused += p.seriesRefused.Load()
		s.RingDropped += p.ringDropped()
		s.OperatorsRefused += ss.Refused()
		s.ClosedRefused += p.ringClosed.Load()
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
