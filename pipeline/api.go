package pipeline

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/edgeplane/edgeplane/decode"
	"github.com/edgeplane/edgeplane/operators"
	"github.com/edgeplane/edgeplane/record"
)

// The read API, version 1 (README "Read API"): JSON over the gateway's
// HTTP listener, behind the optional bearer token gateway.http_token.
//
//	GET /v1/gateway                      sources, JetStream buffer, Kafka
//	GET /v1/pipelines                    every pipeline's summary
//	GET /v1/pipelines/{name}             one pipeline's summary
//	GET /v1/pipelines/{name}/series      series keys (?prefix= &limit= &after=)
//	GET /v1/pipelines/{name}/series/{key} open windows, partial aggregates
//	GET /v1/tap                          live events (tap.go)
//
// Errors are {"error": "..."} with 400, 401, 404, 429 or 503.

// errNotFound marks an unknown pipeline, series or source (404).
var errNotFound = errors.New("not found")

// Series list bounds.
const (
	DefaultSeriesLimit = 100
	MaxSeriesLimit     = 1000
)

// registerAPI adds the /v1 endpoints to mux, behind token when set.
func (g *Gateway) registerAPI(mux *http.ServeMux, token string) {
	h := func(pattern string, f http.HandlerFunc) { mux.Handle(pattern, requireToken(token, f)) }
	h("GET /v1/gateway", g.apiGateway)
	h("GET /v1/pipelines", g.apiPipelines)
	h("GET /v1/pipelines/{name}", g.apiPipeline)
	h("GET /v1/pipelines/{name}/series", g.apiSeriesList)
	h("GET /v1/pipelines/{name}/series/{key...}", g.apiSeries)
	h("GET /v1/tap", g.apiTap)
	h("GET /v1/deadletters", g.apiDeadLetters)
	h("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, fmt.Errorf("no endpoint %s %s", r.Method, r.URL.Path))
	})
}

// requireToken wraps f with a bearer token check; an empty token lets
// every request through.
func requireToken(token string, f http.HandlerFunc) http.Handler {
	if token == "" {
		return f
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="edgeplane"`)
			writeErr(w, http.StatusUnauthorized, errors.New("missing or wrong bearer token (gateway.http_token)"))
			return
		}
		f(w, r)
	})
}

// APIError is the body of every error answer.
type APIError struct {
	Error string `json:"error"`
}

func writeErr(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, APIError{Error: err.Error()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// errCode maps an error to its HTTP status.
func errCode(err error) int {
	switch {
	case errors.Is(err, errNotFound):
		return http.StatusNotFound
	case errors.Is(err, errTooManyTaps):
		return http.StatusTooManyRequests
	case errors.Is(err, errShardBusy), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// pipe returns the running pipeline named name, or nil. g.mu held.
func (g *Gateway) pipe(name string) *pipe {
	for _, p := range g.pipes {
		if p.cfg.Name == name {
			return p
		}
	}
	return nil
}

// source returns the running source named name, or nil. g.mu held.
func (g *Gateway) source(name string) *sourceRun {
	for _, sr := range g.sources {
		if sr.cfg.Name == name {
			return sr
		}
	}
	return nil
}

// lookupPipe returns the pipeline named by the request's {name}.
func (g *Gateway) lookupPipe(r *http.Request) (*pipe, error) {
	name := r.PathValue("name")
	g.mu.Lock()
	defer g.mu.Unlock()
	if p := g.pipe(name); p != nil {
		return p, nil
	}
	return nil, fmt.Errorf("%w: no pipeline %q", errNotFound, name)
}

// GatewayInfo is GET /v1/gateway.
type GatewayInfo struct {
	ID            string       `json:"id"`
	UptimeSeconds float64      `json:"uptime_seconds"`
	Time          int64        `json:"time"` // wall clock, Unix ms
	Pipelines     []string     `json:"pipelines"`
	Sources       []SourceInfo `json:"sources"`
	Buffer        BufferInfo   `json:"buffer"`
	Kafka         KafkaInfo    `json:"kafka"`
	Ready         Readiness    `json:"ready"`
}

// SourceInfo is one source's counters.
type SourceInfo struct {
	Name      string            `json:"name"`
	Type      string            `json:"type"`
	Connected bool              `json:"connected"`
	Messages  uint64            `json:"messages"`
	Records   uint64            `json:"records"`
	Readings  uint64            `json:"readings"`
	Rejected  uint64            `json:"rejected"`
	ByReason  map[string]uint64 `json:"rejected_by_reason,omitempty"`
}

// BufferInfo is the JetStream buffer's backlog.
type BufferInfo struct {
	OK               bool    `json:"ok"`
	Messages         uint64  `json:"messages"`
	Bytes            uint64  `json:"bytes"`
	Aggregates       uint64  `json:"aggregates"`
	LateEvents       uint64  `json:"late_events"`
	OldestAgeSeconds float64 `json:"oldest_age_seconds"`
}

// KafkaInfo is the forwarder's progress.
type KafkaInfo struct {
	Records   uint64  `json:"records"`
	Items     uint64  `json:"items"`
	Errors    uint64  `json:"record_errors"`
	DrainRate float64 `json:"drain_rate"` // items/s over 5 s
	Failing   bool    `json:"failing"`
}

func (g *Gateway) apiGateway(w http.ResponseWriter, _ *http.Request) {
	ready := g.Ready()
	// Start writes started, the sources' src and fwd: read them only once
	// the gateway is up (Gateway.up orders those writes before).
	up := g.up.Load()
	g.mu.Lock()
	gi := GatewayInfo{ID: g.cfg.Gateway.ID, Time: time.Now().UnixMilli(), Ready: ready, Pipelines: []string{}, Sources: []SourceInfo{}}
	if up && !g.started.IsZero() {
		gi.UptimeSeconds = time.Since(g.started).Seconds()
	}
	for _, p := range g.pipes {
		gi.Pipelines = append(gi.Pipelines, p.cfg.Name)
	}
	for _, sr := range g.sources {
		si := SourceInfo{Name: sr.cfg.Name, Type: sr.cfg.Type.String()}
		if up && sr.src != nil {
			st := sr.src.SourceStats()
			si.Connected = st.Connected.Load()
			si.Messages, si.Records, si.Readings = st.Messages.Load(), st.Records.Load(), st.Readings.Load()
			si.Rejected = st.RejectedTotal()
			for rs := decode.ReasonNone + 1; rs < decode.NumReasons; rs++ {
				if n := st.Rejected[rs].Load(); n > 0 {
					if si.ByReason == nil {
						si.ByReason = map[string]uint64{}
					}
					si.ByReason[rs.String()] = n
				}
			}
		}
		gi.Sources = append(gi.Sources, si)
	}
	g.mu.Unlock()
	b := g.m.buffer()
	gi.Buffer = BufferInfo{OK: b.ok, Messages: uint64(b.messages), Bytes: uint64(b.bytes), Aggregates: uint64(b.aggregates),
		LateEvents: uint64(b.late), OldestAgeSeconds: b.oldestAge}
	f := g.m.fwdStats()
	gi.Kafka = KafkaInfo{Records: f.records, Errors: f.recordErrors}
	if up && g.fwd != nil {
		gi.Kafka.Items = g.fwd.Stats.Items.Load()
		gi.Kafka.DrainRate = g.fwd.Stats.DrainRate()
		gi.Kafka.Failing = g.fwd.Stats.Failing.Load()
	}
	writeJSON(w, http.StatusOK, gi)
}

// PipelineInfo is GET /v1/pipelines/{name}.
type PipelineInfo struct {
	Name       string        `json:"name"`
	From       []string      `json:"from"`
	Fields     []string      `json:"fields"`
	Aggregates []string      `json:"aggregates"`
	Topic      string        `json:"topic"`
	Window     WindowInfo    `json:"window"`
	Watermark  WatermarkInfo `json:"watermark"`
	Series     struct {
		Known int `json:"known"`
		Max   int `json:"max"`
	} `json:"series"`
	Counters PipelineCounters `json:"counters"`
	Shards   []ShardInfo      `json:"shards"`
	// Backlog: aggregates emitted but not yet acknowledged into the
	// JetStream buffer (held in the shards' frames or being published).
	Backlog uint64 `json:"backlog"`
}

// WindowInfo is the effective window configuration.
type WindowInfo struct {
	Type            string `json:"type"`
	Size            string `json:"size,omitempty"`
	Advance         string `json:"advance,omitempty"`
	Gap             string `json:"gap,omitempty"`
	OutOfOrderness  string `json:"out_of_orderness"`
	AllowedLateness string `json:"allowed_lateness"`
	Emit            string `json:"emit"`
	Time            string `json:"time"`
}

// WatermarkInfo is the pipeline's watermark. Scope is window.watermark:
// "pipeline", one watermark for every series (the shards' views of it in
// ShardInfo), or "series", each series by its own clock.
type WatermarkInfo struct {
	Scope string `json:"scope"`
	// Time is the watermark (Unix ms), null before the first; in series
	// scope the lowest watermark of the series that are not idle.
	Time *int64 `json:"time"`
	// LagSeconds is wall clock minus Time, null before the first; in
	// series scope the largest lag over the series that are not idle.
	LagSeconds *float64 `json:"lag_seconds"`
	// ActiveSeries and IdleSeries (series scope) count the series with
	// data that sent within window.idle_timeout, or not (recounted about
	// once a second).
	ActiveSeries uint64 `json:"active_series"`
	IdleSeries   uint64 `json:"idle_series"`
	// Series summarises the watermark lag over the series that have had
	// a reading (GET /v1/pipelines/{name} only: it asks the shards). With
	// scope "pipeline" every series has the pipeline's watermark.
	Series *SeriesLag `json:"series,omitempty"`
}

// SeriesLag is the distribution of wall clock minus each series's
// watermark, in seconds, over Count series.
type SeriesLag struct {
	Count int     `json:"count"`
	Min   float64 `json:"min_lag_seconds"`
	P50   float64 `json:"p50_lag_seconds"`
	P99   float64 `json:"p99_lag_seconds"`
	Max   float64 `json:"max_lag_seconds"`
}

// PipelineCounters are the pipeline's counters since it started.
type PipelineCounters struct {
	Samples            uint64 `json:"samples"`
	Late               uint64 `json:"late"`
	LateAccepted       uint64 `json:"late_accepted"`
	Filtered           uint64 `json:"filtered"`
	Deduped            uint64 `json:"deduped"`
	Deadbanded         uint64 `json:"deadbanded"`
	WindowsFired       uint64 `json:"windows_fired"`
	WindowsRefired     uint64 `json:"windows_refired"`
	Refused            uint64 `json:"refused"`
	SeriesRefused      uint64 `json:"series_refused"`
	RingDropped        uint64 `json:"ring_dropped"`
	AggregatesBuffered uint64 `json:"aggregates_buffered"`
	FramesBuffered     uint64 `json:"frames_buffered"`
	LateBuffered       uint64 `json:"late_buffered"`
	OpenWindows        uint64 `json:"open_slots"`
}

// ShardInfo is one shard's ring fill and watermark view.
type ShardInfo struct {
	RingLen   int     `json:"ring_len"`
	RingCap   int     `json:"ring_cap"`
	RingFill  float64 `json:"ring_fill"` // len/cap
	Watermark *int64  `json:"watermark"`
	OpenSlots uint64  `json:"open_slots"`
}

func optTime(ms int64) *int64 {
	if ms == operators.NoWatermark || ms == math.MinInt64 {
		return nil
	}
	return &ms
}

// info summarises p from its atomics; it never waits for a shard.
func (p *pipe) info(now time.Time) PipelineInfo {
	c := p.cfg
	pi := PipelineInfo{Name: c.Name, From: c.From, Fields: p.fields, Aggregates: c.Aggregates, Topic: c.To.Topic}
	wc := &c.Window
	pi.Window = WindowInfo{Type: wc.Type.String(), OutOfOrderness: wc.OutOfOrderness.D().String(),
		AllowedLateness: wc.AllowedLateness.D().String(), Emit: wc.Emit.String(), Time: wc.Time.String()}
	switch wc.Type {
	case record.Session:
		pi.Window.Gap = wc.Gap.D().String()
	case record.Hopping:
		pi.Window.Size, pi.Window.Advance = wc.Size.D().String(), wc.Advance.D().String()
	default:
		pi.Window.Size = wc.Size.D().String()
	}
	ss := p.shardStats()
	pi.Watermark.Scope = wc.Watermark.String()
	wm := p.wm.Load()
	if p.plan.Operators.SeriesScope() {
		wm = ss.Watermark
		pi.Watermark.ActiveSeries, pi.Watermark.IdleSeries = ss.SeriesActive, ss.SeriesIdle
	}
	if wm != operators.NoWatermark {
		pi.Watermark.Time = &wm
		if lag := p.watermarkLag(now); !math.IsNaN(lag) {
			pi.Watermark.LagSeconds = &lag
		}
	}
	pi.Series.Known, pi.Series.Max = p.series.Len(), p.series.Max()
	pi.Counters = PipelineCounters{Samples: ss.SamplesIn, Late: ss.Late, LateAccepted: ss.LateAccepted, Filtered: ss.Filtered,
		Deduped: ss.Deduped, Deadbanded: ss.Deadbanded, WindowsFired: ss.Emitted, WindowsRefired: ss.Refired,
		Refused: ss.Refused(), SeriesRefused: p.seriesRefused.Load(), RingDropped: p.ringDropped(),
		AggregatesBuffered: p.wstats.Aggregates.Load(), FramesBuffered: p.wstats.Frames.Load(),
		LateBuffered: p.lateStats.Aggregates.Load(), OpenWindows: ss.OpenSlots}
	if ss.Emitted > pi.Counters.AggregatesBuffered {
		pi.Backlog = ss.Emitted - pi.Counters.AggregatesBuffered
	}
	pi.Shards = make([]ShardInfo, len(p.shards))
	for i, s := range p.shards {
		si := ShardInfo{RingLen: s.ring.Len(), RingCap: s.ring.Cap()}
		if si.RingCap > 0 {
			si.RingFill = float64(si.RingLen) / float64(si.RingCap)
		}
		if st := s.stats.Load(); st != nil {
			si.Watermark = optTime(st.Watermark)
			si.OpenSlots = st.OpenSlots
		}
		pi.Shards[i] = si
	}
	return pi
}

func (g *Gateway) apiPipelines(w http.ResponseWriter, _ *http.Request) {
	g.mu.Lock()
	pipes := slices.Clone(g.pipes)
	g.mu.Unlock()
	now := time.Now()
	out := struct {
		Gateway   string         `json:"gateway"`
		Time      int64          `json:"time"`
		Pipelines []PipelineInfo `json:"pipelines"`
	}{Gateway: g.cfg.Gateway.ID, Time: now.UnixMilli(), Pipelines: []PipelineInfo{}}
	for _, p := range pipes {
		out.Pipelines = append(out.Pipelines, p.info(now))
	}
	writeJSON(w, http.StatusOK, out)
}

func (g *Gateway) apiPipeline(w http.ResponseWriter, r *http.Request) {
	p, err := g.lookupPipe(r)
	if err != nil {
		writeErr(w, errCode(err), err)
		return
	}
	now := time.Now()
	pi := p.info(now)
	lag, err := p.seriesLag(r.Context(), now)
	if err != nil {
		writeErr(w, errCode(err), err)
		return
	}
	pi.Watermark.Series = lag
	writeJSON(w, http.StatusOK, pi)
}

// seriesLag asks every shard for its series's watermarks; nil when no
// series has a watermark yet.
func (p *pipe) seriesLag(ctx context.Context, now time.Time) (*SeriesLag, error) {
	var wms []int64
	for i, s := range p.shards {
		var got []int64
		if err := s.ask(ctx, func() { got = s.seriesWatermarks(nil) }); err != nil {
			return nil, fmt.Errorf("pipeline %s shard %d: %w", p.cfg.Name, i, err)
		}
		for _, wm := range got {
			if wm != operators.NoWatermark {
				wms = append(wms, wm)
			}
		}
	}
	if len(wms) == 0 {
		return nil, nil
	}
	slices.Sort(wms) // oldest watermark first: the largest lag first
	ms := now.UnixMilli()
	lag := func(q float64) float64 {
		i := int(q * float64(len(wms)-1))
		return float64(ms-wms[len(wms)-1-i]) / 1e3
	}
	return &SeriesLag{Count: len(wms), Min: lag(0), P50: lag(0.5), P99: lag(0.99), Max: float64(ms-wms[0]) / 1e3}, nil
}

// SeriesInfo is one series in GET /v1/pipelines/{name}/series.
type SeriesInfo struct {
	Key string `json:"key"`
	// LastEvent is the latest event time seen (Unix ms), LastArrival the
	// wall clock of the last reading; null before any reached the shard.
	LastEvent   *int64 `json:"last_event"`
	LastArrival *int64 `json:"last_arrival"`
	// Watermark is the watermark governing the series's windows.
	Watermark   *int64 `json:"watermark"`
	OpenWindows int    `json:"open_windows"`
}

// SeriesPage is GET /v1/pipelines/{name}/series: series in key order,
// at most limit, after the key after; Next is the after of the next page
// ("" on the last).
type SeriesPage struct {
	Pipeline string       `json:"pipeline"`
	Total    int          `json:"total"` // series matching the prefix
	Series   []SeriesInfo `json:"series"`
	Next     string       `json:"next,omitempty"`
}

func (g *Gateway) apiSeriesList(w http.ResponseWriter, r *http.Request) {
	p, err := g.lookupPipe(r)
	if err != nil {
		writeErr(w, errCode(err), err)
		return
	}
	q := r.URL.Query()
	limit := DefaultSeriesLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxSeriesLimit {
			writeErr(w, http.StatusBadRequest, fmt.Errorf("limit %q: want 1 to %d", v, MaxSeriesLimit))
			return
		}
		limit = n
	}
	page, err := p.seriesPage(r.Context(), q.Get("prefix"), q.Get("after"), limit)
	if err != nil {
		writeErr(w, errCode(err), err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// seriesPage lists the series with prefix after the key after, in key
// order, at most limit, with what their shards know of them.
func (p *pipe) seriesPage(ctx context.Context, prefix, after string, limit int) (SeriesPage, error) {
	keys := p.series.Keys()
	var ids []uint32
	for id, k := range keys {
		if strings.HasPrefix(k, prefix) {
			ids = append(ids, uint32(id))
		}
	}
	sort.Slice(ids, func(i, j int) bool { return keys[ids[i]] < keys[ids[j]] })
	page := SeriesPage{Pipeline: p.cfg.Name, Total: len(ids), Series: []SeriesInfo{}}
	from := sort.Search(len(ids), func(i int) bool { return keys[ids[i]] > after })
	ids = ids[from:]
	if len(ids) > limit {
		ids = ids[:limit]
		page.Next = keys[ids[limit-1]]
	}
	states, err := p.seriesStates(ctx, ids, false)
	if err != nil {
		return page, err
	}
	for i, id := range ids {
		st := &states[i]
		page.Series = append(page.Series, SeriesInfo{Key: keys[id], LastEvent: optTime(st.lastEvent),
			LastArrival: optTime(st.lastArrival), Watermark: optTime(st.watermark), OpenWindows: st.openWindows})
	}
	return page, nil
}

// seriesStates asks each shard about its series among ids (one query per
// shard) and returns the answers in the order of ids.
func (p *pipe) seriesStates(ctx context.Context, ids []uint32, detail bool) ([]seriesState, error) {
	out := make([]seriesState, len(ids))
	n := uint32(len(p.shards))
	for si, s := range p.shards {
		var mine []uint32
		var at []int
		for i, id := range ids {
			if id%n == uint32(si) {
				mine = append(mine, id)
				at = append(at, i)
			}
		}
		if len(mine) == 0 {
			continue
		}
		res := make([]seriesState, len(mine))
		if err := s.ask(ctx, func() { s.seriesInfo(mine, detail, res) }); err != nil {
			return nil, fmt.Errorf("pipeline %s shard %d: %w", p.cfg.Name, si, err)
		}
		for k, i := range at {
			out[i] = res[k]
		}
	}
	return out, nil
}

// SeriesDetail is GET /v1/pipelines/{name}/series/{key}.
type SeriesDetail struct {
	Pipeline string `json:"pipeline"`
	SeriesInfo
	// Open are the partial aggregates of the series's open windows, in
	// the JSON of the Kafka records (json format) with "partial": true:
	// what each window would emit if it fired now.
	Open []json.RawMessage `json:"open"`
	// LastEmitted is the last aggregate emitted per field since the
	// series was first asked about (the gateway keeps them only for
	// series someone inspects, up to 256 per shard).
	LastEmitted []json.RawMessage `json:"last_emitted"`
}

func (g *Gateway) apiSeries(w http.ResponseWriter, r *http.Request) {
	p, err := g.lookupPipe(r)
	if err != nil {
		writeErr(w, errCode(err), err)
		return
	}
	d, err := p.seriesDetail(r.Context(), r.PathValue("key"))
	if err != nil {
		writeErr(w, errCode(err), err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (p *pipe) seriesDetail(ctx context.Context, key string) (SeriesDetail, error) {
	id := -1
	for i, k := range p.series.Keys() {
		if k == key {
			id = i
			break
		}
	}
	if id < 0 {
		return SeriesDetail{}, fmt.Errorf("%w: pipeline %s has no series %q", errNotFound, p.cfg.Name, key)
	}
	sts, err := p.seriesStates(ctx, []uint32{uint32(id)}, true)
	if err != nil {
		return SeriesDetail{}, err
	}
	st := &sts[0]
	d := SeriesDetail{Pipeline: p.cfg.Name, SeriesInfo: SeriesInfo{Key: key, LastEvent: optTime(st.lastEvent),
		LastArrival: optTime(st.lastArrival), Watermark: optTime(st.watermark), OpenWindows: st.openWindows},
		Open: []json.RawMessage{}, LastEmitted: []json.RawMessage{}}
	for i := range st.open {
		d.Open = append(d.Open, p.aggregateJSON(&st.open[i], key, true))
	}
	for i := range st.last {
		d.LastEmitted = append(d.LastEmitted, p.aggregateJSON(&st.last[i], key, false))
	}
	return d, nil
}

// apiTap streams live events as NDJSON (default) or, with format=sse or
// Accept: text/event-stream, as server-sent events, until the client goes
// away or the gateway stops. Every tapStatsInterval a
// {"kind":"tap_stats",...} line carries the tap's counters.
func (g *Gateway) apiTap(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := TapFilter{Pipeline: q.Get("pipeline"), Source: q.Get("source"), Series: q.Get("series")}
	var err error
	if f.Kinds, err = ParseTapKinds(q.Get("kind")); err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	if v := q.Get("rate"); v != "" {
		if f.Rate, err = strconv.Atoi(v); err != nil || f.Rate < 1 {
			writeErr(w, http.StatusBadRequest, fmt.Errorf("rate %q: want a positive number of events per second (at most %d)", v, MaxTapRate))
			return
		}
	}
	if v := q.Get("sample"); v != "" {
		if f.Sample, err = strconv.ParseUint(v, 10, 32); err != nil || f.Sample < 1 {
			writeErr(w, http.StatusBadRequest, fmt.Errorf("sample %q: want N >= 1 (keep one event in N)", v))
			return
		}
	}
	sse := q.Get("format") == "sse" || (q.Get("format") == "" && strings.Contains(r.Header.Get("Accept"), "text/event-stream"))
	if v := q.Get("format"); v != "" && v != "sse" && v != "ndjson" {
		writeErr(w, http.StatusBadRequest, fmt.Errorf("format %q: want ndjson or sse", v))
		return
	}
	t, err := g.attachTap(f)
	if err != nil {
		writeErr(w, errCode(err), err)
		return
	}
	defer g.detachTap(t)
	fl, _ := w.(http.Flusher)
	if sse {
		w.Header().Set("Content-Type", "text/event-stream")
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson")
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	write := func(b []byte) error {
		var err error
		if sse {
			_, err = fmt.Fprintf(w, "data: %s\n\n", b)
		} else {
			if _, err = w.Write(b); err == nil {
				_, err = w.Write([]byte{'\n'})
			}
		}
		return err
	}
	stats := func() error {
		b, _ := json.Marshal(struct {
			Kind string `json:"kind"`
			TapStats
		}{"tap_stats", t.stats()})
		return write(b)
	}
	if fl != nil {
		fl.Flush()
	}
	tick := time.NewTicker(tapStatsInterval)
	defer tick.Stop()
	stop := g.taps.done()
	for {
		select {
		case b := <-t.ch:
			if write(b) != nil {
				return
			}
			// Write what else is queued, then flush once.
			for more := true; more; {
				select {
				case b := <-t.ch:
					if write(b) != nil {
						return
					}
				default:
					more = false
				}
			}
		case <-tick.C:
			if stats() != nil {
				return
			}
		case <-stop:
			_ = stats()
			return
		case <-r.Context().Done():
			return
		}
		if fl != nil {
			fl.Flush()
		}
	}
}
