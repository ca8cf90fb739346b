package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgeplane/edgeplane/decode"
	"github.com/edgeplane/edgeplane/ingest"
	"github.com/edgeplane/edgeplane/internal/clock"
	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/sink"
)

// The live tap (GET /v1/tap, `edgeplane tap`): copies of what flows
// through a running gateway — accepted readings, rejected records with
// their reason, late readings and emitted aggregates — filtered, sampled
// and rate-limited on the gateway.
//
// Cost: with no tap attached, the data path pays one atomic load per
// delivered message (pipe.deliver), per emitted aggregate and per late
// reading (shardRun.Emit, Late), and per rejected record (the source's
// RejectTap). With a tap attached, an event is matched against the tap's
// kinds and source, thinned by its sample, matched against its series glob
// (no allocation) and charged to its rate; only an event that passes all of
// them is encoded (one allocation) and offered to the tap's bounded queue,
// dropped and counted when the queue is full. A tap never blocks the data
// path.

// Tap event kinds (TapFilter.Kinds bits).
const (
	TapReading uint8 = 1 << iota
	TapReject
	TapLate
	TapAggregate
	tapAllKinds = TapReading | TapReject | TapLate | TapAggregate
)

var tapKindNames = []struct {
	bit  uint8
	name string
}{{TapReading, "reading"}, {TapReject, "reject"}, {TapLate, "late"}, {TapAggregate, "aggregate"}}

// ParseTapKinds parses a comma-separated list of kinds (reading, reject,
// late, aggregate); empty means all.
func ParseTapKinds(s string) (uint8, error) {
	if s == "" {
		return tapAllKinds, nil
	}
	var k uint8
	for _, n := range strings.Split(s, ",") {
		found := false
		for _, kn := range tapKindNames {
			if kn.name == strings.TrimSpace(n) {
				k |= kn.bit
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown kind %q (want reading, reject, late or aggregate)", n)
		}
	}
	return k, nil
}

// Tap limits.
const (
	// DefaultTapRate is a tap's events per second unless it asks for
	// another rate; MaxTapRate caps what it may ask for.
	DefaultTapRate = 100
	MaxTapRate     = 1000
	// MaxTaps is how many taps a gateway serves at once.
	MaxTaps = 8
	// tapQueue is a tap's queue of encoded events.
	tapQueue = 1024
	// tapPayloadMax bounds the raw payload a reject event carries.
	tapPayloadMax = 256
)

// errTooManyTaps refuses a tap beyond MaxTaps.
var errTooManyTaps = errors.New("too many taps attached")

// TapFilter selects a tap's events.
type TapFilter struct {
	Pipeline string // "" any
	Source   string // "" any
	Series   string // glob over the series key: '*' any run, '?' one byte; "" any
	Kinds    uint8  // Tap* bits; 0 = all
	// Rate is the most events per second the tap receives (token bucket,
	// burst of one second); capped at MaxTapRate; 0 = DefaultTapRate.
	Rate int
	// Sample keeps one in Sample matching events (before the rate); 0 or
	// 1 keeps all.
	Sample uint64
}

// tap is one attached tap.
type tap struct {
	f  TapFilter
	ch chan []byte

	seen atomic.Uint64 // events matching kind and source, for the sample

	mu     sync.Mutex
	tokens float64
	lastMs int64

	sent, sampled, limited, dropped atomic.Uint64
}

// TapStats are a tap's counters: events sent to its queue, thinned out by
// its sample, refused by its rate, dropped because its queue was full.
type TapStats struct {
	Sent    uint64 `json:"sent"`
	Sampled uint64 `json:"sampled_out"`
	Limited uint64 `json:"rate_limited"`
	Dropped uint64 `json:"dropped"`
}

func (t *tap) stats() TapStats {
	return TapStats{Sent: t.sent.Load(), Sampled: t.sampled.Load(), Limited: t.limited.Load(), Dropped: t.dropped.Load()}
}

// admit decides, for an event of kind from source with series key, whether
// the tap takes it: kind, source, sample, glob, then the rate at nowMs.
func (t *tap) admit(kind uint8, source string, key []byte, nowMs int64) bool {
	if t.f.Kinds&kind == 0 || (t.f.Source != "" && t.f.Source != source) {
		return false
	}
	if t.f.Series != "" && (key == nil || !globMatch(t.f.Series, key)) {
		return false
	}
	if n := t.f.Sample; n > 1 && t.seen.Add(1)%n != 0 {
		t.sampled.Add(1)
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	rate := float64(t.f.Rate)
	if t.lastMs == 0 {
		t.tokens = rate
	} else if d := nowMs - t.lastMs; d > 0 {
		t.tokens = min(rate, t.tokens+rate*float64(d)/1e3)
	}
	t.lastMs = max(t.lastMs, nowMs)
	if t.tokens < 1 {
		t.limited.Add(1)
		return false
	}
	t.tokens--
	return true
}

// offer queues an encoded event, or drops it when the queue is full.
func (t *tap) offer(b []byte) {
	select {
	case t.ch <- b:
		t.sent.Add(1)
	default:
		t.dropped.Add(1)
	}
}

// globMatch reports whether key matches pattern: '*' matches any run of
// bytes ('/' included), '?' any one byte, everything else itself. It does
// not allocate.
func globMatch(pattern string, key []byte) bool {
	p, k := 0, 0
	star, mark := -1, 0
	for k < len(key) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == key[k]):
			p++
			k++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, k
			p++
		case star >= 0:
			p = star + 1
			mark++
			k = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// tapHub holds a gateway's taps and points each pipeline and source at
// the ones that concern it.
type tapHub struct {
	mu     sync.Mutex
	taps   []*tap
	closed chan struct{} // closed when the gateway stops: taps end
	once   sync.Once
}

func (h *tapHub) done() chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed == nil {
		h.closed = make(chan struct{})
	}
	return h.closed
}

func (h *tapHub) close() {
	c := h.done()
	h.once.Do(func() { close(c) })
}

// tapSet is what one pipeline's data path offers events to.
type tapSet struct {
	taps []*tap
	kind uint8 // union of their kinds
}

// attach adds a tap with filter f, or refuses it (unknown pipeline or
// source, too many taps).
func (g *Gateway) attachTap(f TapFilter) (*tap, error) {
	if f.Kinds == 0 {
		f.Kinds = tapAllKinds
	}
	if f.Rate <= 0 {
		f.Rate = DefaultTapRate
	}
	f.Rate = min(f.Rate, MaxTapRate)
	g.mu.Lock()
	defer g.mu.Unlock()
	if f.Pipeline != "" && g.pipe(f.Pipeline) == nil {
		return nil, fmt.Errorf("%w: pipeline %q", errNotFound, f.Pipeline)
	}
	if f.Source != "" && g.source(f.Source) == nil {
		return nil, fmt.Errorf("%w: source %q", errNotFound, f.Source)
	}
	h := &g.taps
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.taps) >= MaxTaps {
		return nil, errTooManyTaps
	}
	t := &tap{f: f, ch: make(chan []byte, tapQueue)}
	h.taps = append(h.taps, t)
	g.refreshTapsLocked()
	return t, nil
}

// detachTap removes t.
func (g *Gateway) detachTap(t *tap) {
	g.mu.Lock()
	defer g.mu.Unlock()
	h := &g.taps
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, x := range h.taps {
		if x == t {
			h.taps = append(h.taps[:i:i], h.taps[i+1:]...)
			break
		}
	}
	g.refreshTapsLocked()
}

// refreshTaps points the pipelines and sources at their taps; Reload
// calls it with g.mu held after swapping them.
func (g *Gateway) refreshTaps() {
	g.taps.mu.Lock()
	defer g.taps.mu.Unlock()
	g.refreshTapsLocked()
}

// refreshTapsLocked needs g.mu and g.taps.mu.
func (g *Gateway) refreshTapsLocked() {
	for _, p := range g.pipes {
		var ts tapSet
		for _, t := range g.taps.taps {
			if t.f.Pipeline == "" || t.f.Pipeline == p.cfg.Name {
				ts.taps = append(ts.taps, t)
				ts.kind |= t.f.Kinds
			}
		}
		if len(ts.taps) == 0 {
			p.taps.Store(nil)
		} else {
			p.taps.Store(&ts)
		}
	}
	for _, sr := range g.sources {
		if sr.src == nil {
			continue
		}
		var ts []*tap
		for _, t := range g.taps.taps {
			if t.f.Kinds&TapReject == 0 || (t.f.Source != "" && t.f.Source != sr.cfg.Name) {
				continue
			}
			if t.f.Pipeline != "" && !sr.feeds(t.f.Pipeline) {
				continue
			}
			ts = append(ts, t)
		}
		if len(ts) == 0 {
			sr.src.SourceStats().RejectTap.Store(nil)
			continue
		}
		fn := ingest.RejectTap(func(source string, reason decode.Reason, topic string, raw []byte, err error) {
			tapReject(ts, source, reason, topic, raw, err)
		})
		sr.src.SourceStats().RejectTap.Store(&fn)
	}
}

// feeds reports whether the source feeds the pipeline named name.
func (sr *sourceRun) feeds(name string) bool {
	sr.mu.RLock()
	defer sr.mu.RUnlock()
	for _, t := range sr.targets {
		if t.p.cfg.Name == name {
			return true
		}
	}
	return false
}

// Tap event bodies, one JSON object per line.
type tapEvent struct {
	Kind      string          `json:"kind"`
	Pipeline  string          `json:"pipeline,omitempty"`
	Source    string          `json:"source,omitempty"`
	Series    string          `json:"series,omitempty"`
	Field     string          `json:"field,omitempty"`
	Time      *int64          `json:"time,omitempty"`
	Value     *float64        `json:"value,omitempty"`
	Arrival   int64           `json:"arrival,omitempty"`
	Watermark *int64          `json:"watermark,omitempty"`
	Reason    string          `json:"reason,omitempty"`
	Topic     string          `json:"topic,omitempty"`
	Error     string          `json:"error,omitempty"`
	Payload   string          `json:"payload,omitempty"`
	Aggregate json.RawMessage `json:"aggregate,omitempty"`
}

func encodeTap(e *tapEvent) []byte {
	b, _ := json.Marshal(e)
	return b
}

func tapReject(ts []*tap, source string, reason decode.Reason, topic string, raw []byte, err error) {
	now := clock.NowMs()
	var b []byte
	for _, t := range ts {
		// Rejects have no series key: a tap filtered on series gets none.
		if t.f.Series != "" || !t.admit(TapReject, source, nil, now) {
			continue
		}
		if b == nil {
			e := tapEvent{Kind: "reject", Source: source, Reason: reason.String(), Topic: topic, Arrival: now}
			if err != nil {
				e.Error = err.Error()
			}
			if len(raw) > tapPayloadMax {
				raw = raw[:tapPayloadMax]
			}
			e.Payload = string(raw)
			b = encodeTap(&e)
		}
		t.offer(b)
	}
}

// tapReadings offers the readings of a delivered message from the source
// at index src. Receive goroutine, only while a tap is attached.
func (p *pipe) tapReadings(ts *tapSet, src int, b *decode.Batch, now int64) {
	if ts.kind&TapReading == 0 {
		return
	}
	fm := p.fieldMap[src]
	source := p.cfg.From[src]
	for i := range b.Readings {
		r := &b.Readings[i]
		if int(r.Field) >= len(fm) || fm[r.Field] < 0 {
			continue
		}
		key := b.Key(i)
		var enc []byte
		for _, t := range ts.taps {
			if !t.admit(TapReading, source, key, now) {
				continue
			}
			if enc == nil {
				tm, v := r.Time, r.Value
				enc = encodeTap(&tapEvent{Kind: "reading", Pipeline: p.cfg.Name, Source: source, Series: string(key),
					Field: p.fields[fm[r.Field]], Time: &tm, Value: &v, Arrival: now})
			}
			t.offer(enc)
		}
	}
}

// tapLate offers a late reading. Shard goroutine.
func (s *shardRun) tapLate(ts *tapSet, smp *record.Sample) {
	if ts.kind&TapLate == 0 {
		return
	}
	p := s.p
	key := p.series.Key(smp.Series)
	source := ""
	if int(smp.Source) < len(p.cfg.From) {
		source = p.cfg.From[smp.Source]
	}
	var enc []byte
	for _, t := range ts.taps {
		if !t.admit(TapLate, source, []byte(key), s.now) {
			continue
		}
		if enc == nil {
			tm, v, wm := smp.Time, smp.Value, s.op.SeriesWatermark(smp.Series)
			enc = encodeTap(&tapEvent{Kind: "late", Pipeline: p.cfg.Name, Source: source, Series: key,
				Field: p.fieldName(smp.Field), Time: &tm, Value: &v, Watermark: &wm, Arrival: s.now})
		}
		t.offer(enc)
	}
}

// tapAggregate offers an emitted aggregate. Shard goroutine.
func (s *shardRun) tapAggregate(ts *tapSet, a *record.Aggregate) {
	if ts.kind&TapAggregate == 0 {
		return
	}
	p := s.p
	key := p.series.Key(a.Series)
	var enc []byte
	for _, t := range ts.taps {
		// An aggregate has no single source: a tap filtered on a source
		// sees none.
		if t.f.Source != "" || !t.admit(TapAggregate, "", []byte(key), s.now) {
			continue
		}
		if enc == nil {
			enc = encodeTap(&tapEvent{Kind: "aggregate", Pipeline: p.cfg.Name, Series: key,
				Field: p.fieldName(a.Field), Aggregate: p.aggregateJSON(a, key, false)})
		}
		t.offer(enc)
	}
}

func (p *pipe) fieldName(f uint16) string {
	if int(f) < len(p.fields) {
		return p.fields[f]
	}
	return ""
}

// aggregateJSON renders a as the json record format does (sink.AppendJSON,
// same id), with "partial": true added when partial.
func (p *pipe) aggregateJSON(a *record.Aggregate, key string, partial bool) json.RawMessage {
	who := sink.Identity{Gateway: p.plan.Writer.Gateway, Pipeline: p.cfg.Name, Series: key, Field: p.fieldName(a.Field),
		Window: p.plan.Writer.WindowSpec}
	var r sink.JSONRecord
	r.Encode(a, &who, p.plan.Writer.Columns, sink.KeySeries)
	b := append([]byte(nil), r.Value...)
	if partial {
		b = append(b[:len(b)-1], `,"partial":true}`...)
	}
	return b
}

// tapStatsInterval is how often a tap stream carries its counters.
const tapStatsInterval = time.Second

// CloseTaps ends every tap stream (they end by themselves when the
// gateway stops); call it before shutting the HTTP server down.
func (g *Gateway) CloseTaps() { g.taps.close() }
