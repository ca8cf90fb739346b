package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgeplane/edgeplane/decode"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/internal/clock"
	"github.com/edgeplane/edgeplane/internal/ratelog"
	"github.com/edgeplane/edgeplane/operators"
	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/ring"
	"github.com/edgeplane/edgeplane/sink"
)

// flushLinger is how long an aggregate may wait in a shard's frame before
// the frame is published even though it is not full.
const flushLinger = 100 * time.Millisecond

// pipe is one running pipeline.
type pipe struct {
	cfg    *config.Pipeline
	plan   *config.PipelinePlan
	log    *slog.Logger
	series *record.SeriesTable
	fields []string // pipeline field id → name
	// fieldMap[source index][source field] = pipeline field id, or -1.
	fieldMap [][]int32
	// tagRules[source index] are the filters on tags; nil when the
	// pipeline has none.
	tagRules    [][]decode.TagRule
	tagFiltered atomic.Uint64 // readings dropped by a filter on a tag
	// stopped is set before the rings close (producers.go).
	stopped   atomic.Bool
	wm        *operators.Watermarks
	rings     []*ring.MPSC[record.Sample]
	shards    []*shardRun
	wstats    sink.WriterStats
	lateStats sink.WriterStats

	// lateLog writes the late-reading line: per pipeline at most one per
	// ratelog.DefaultInterval (key: the pipeline's name).
	lateLog *ratelog.Logger

	seriesRefused atomic.Uint64
	ringDrops     atomic.Uint64 // readings dropped by a ring policy (markers excluded)
	ringClosed    atomic.Uint64 // readings arriving after the ring closed (shutdown)

	// Watermark markers (see markers): deliver signals dirty after it
	// raised a source's maximum event time.
	dirty      chan struct{}
	lastMarker int64
	mkCancel   context.CancelFunc
	mkDone     chan struct{}
	wg         sync.WaitGroup // shard goroutines

	// Held acks (holdack.go): held is set when a hold_acks source feeds
	// the pipeline.
	held      bool
	drained   atomic.Bool // drained by a reload: everything it had is stored
	stateFile string
	stateMu   sync.Mutex
	persisted int64 // stored watermark last written to stateFile
	// replayFloor: readings released at or below it are replays. The
	// persisted value at start, raised to the persisted value when a
	// held-ack source reconnects (raiseReplayFloor).
	replayFloor atomic.Int64
	replayed    atomic.Uint64

	// taps are the live taps on this pipeline (tap.go); nil when none.
	taps atomic.Pointer[tapSet]
}

// stopMarkers ends the marker loop and waits for it; idempotent.
func (p *pipe) stopMarkers() {
	if p.mkCancel == nil {
		return
	}
	p.mkCancel()
	<-p.mkDone
	p.mkCancel = nil
}

// markerInterval bounds how often watermark markers are queued under load:
// at most this much extra delay before a window fires, and at most
// shards/markerInterval extra ring records per second.
const markerInterval = 10 * time.Millisecond

// markerIdleTick is how often the marker loop re-computes the watermark
// without new data, for the idle-source wall-clock fallback.
const markerIdleTick = time.Second

// shardRun is one shard goroutine's state: ring consumer, operator shard,
// frame writer.
type shardRun struct {
	p       *pipe
	ring    *ring.MPSC[record.Sample]
	op      *operators.Shard
	w       *sink.Writer
	late    *sink.LateWriter // nil unless the pipeline has a late topic
	sinkCtx context.Context
	now     int64
	// oldestMs is when the oldest aggregate in the writer's frame was added.
	oldestMs int64
	stats    atomic.Pointer[operators.ShardStats]
	// stored is the shard's watermark at the end of the last loop
	// iteration that left nothing pending in the writer: every window it
	// fired up to there is in JetStream.
	stored atomic.Int64
	// in answers the read API between batches (inspect.go).
	in inspector
}

// Emit implements operators.Emitter: the aggregate goes into the frame.
func (s *shardRun) Emit(a *record.Aggregate) {
	if s.pending() == 0 {
		s.oldestMs = s.now
	}
	_ = s.w.Add(s.sinkCtx, a, s.now)
	if s.in.watch != nil {
		s.in.noteEmit(a)
	}
	if ts := s.p.taps.Load(); ts != nil {
		s.tapAggregate(ts, a)
	}
}

// Late implements operators.Emitter: the event is logged (rate-limited,
// see logLate) and goes to the late topic when one is configured. Late
// events are counted by the shard either way
// (edgeplane_operators_late_events_total).
func (s *shardRun) Late(smp *record.Sample) {
	s.p.logLate(smp, s.op.Watermark(), s.now)
	if ts := s.p.taps.Load(); ts != nil {
		s.tapLate(ts, smp)
	}
	if s.late == nil {
		return
	}
	if s.w.Pending() == 0 && s.late.Pending() == 0 {
		s.oldestMs = s.now
	}
	_ = s.late.Add(s.sinkCtx, smp, s.now)
}

// rfc3339Ms is RFC 3339 with milliseconds, the precision of event times.
const rfc3339Ms = "2006-01-02T15:04:05.000Z07:00"

// logLate writes a warning about a late reading — its series key, field,
// event time, the shard's watermark that made it late and how late it is
// (watermark − time) — at most once per ratelog.DefaultInterval per
// pipeline, with how many late readings were not logged since the last
// line. The attributes are built only for a line written.
func (p *pipe) logLate(smp *record.Sample, wm, nowMs int64) {
	n, ok := p.lateLog.AllowAt(p.cfg.Name, nowMs)
	if !ok {
		return
	}
	field := ""
	if int(smp.Field) < len(p.fields) {
		field = p.fields[smp.Field]
	}
	p.lateLog.Slog().Warn("late reading", "series", p.series.Key(smp.Series), "field", field,
		"time", time.UnixMilli(smp.Time).UTC().Format(rfc3339Ms),
		"watermark", time.UnixMilli(wm).UTC().Format(rfc3339Ms),
		"late", (time.Duration(wm-smp.Time) * time.Millisecond).String(),
		ratelog.SuppressedKey, n)
}

// watermarkLag is the wall clock now minus the pipeline's current
// watermark, in seconds, or NaN before the pipeline has a watermark (no
// reading yet, and no idle fallback): the value of
// edgeplane_pipeline_watermark_lag_seconds. In series scope it is the
// largest lag over the series that are not idle (NaN when none is), as the
// shards last counted it (about once a second).
func (p *pipe) watermarkLag(now time.Time) float64 {
	if p.plan.Operators.SeriesScope() {
		st := p.shardStats()
		if st.SeriesActive == 0 {
			return math.NaN()
		}
		return float64(st.MaxLagMs) / 1e3
	}
	wm := p.wm.Load()
	if wm == operators.NoWatermark {
		return math.NaN()
	}
	return float64(now.UnixMilli()-wm) / 1e3
}

// pending is what the shard's writers hold unpublished.
func (s *shardRun) pending() int {
	n := s.w.Pending()
	if s.late != nil {
		n += s.late.Pending()
	}
	return n
}

// flush publishes what the shard's writers hold.
func (s *shardRun) flush(ctx context.Context) error {
	err := s.w.Flush(ctx)
	if s.late != nil {
		err = errors.Join(err, s.late.Flush(ctx))
	}
	return err
}

// newPipe builds a pipeline's state from its compiled options; it starts
// nothing.
func newPipe(pp *config.PipelinePlan, log *slog.Logger) (*pipe, error) {
	p := pp.Config
	np := &pipe{cfg: p, plan: pp, log: log.With("pipeline", p.Name), series: record.NewSeriesTable(p.MaxSeries),
		fields: pp.Fields, fieldMap: pp.FieldMap, tagRules: pp.TagRules,
		persisted: math.MinInt64}
	np.replayFloor.Store(math.MinInt64)
	np.lateLog = ratelog.New(np.log, ratelog.DefaultInterval)
	oc := pp.Operators
	np.wm = operators.NewWatermarks(&oc)
	np.dirty = make(chan struct{}, 1)
	np.lastMarker = operators.NoWatermark
	for range pp.Shards {
		r, err := ring.NewMPSC[record.Sample](pp.Ring)
		if err != nil {
			return nil, fmt.Errorf("pipeline %s: ring: %w", p.Name, err)
		}
		r.SetDropHook(func(s record.Sample) {
			if s.Flags&record.FlagWatermark == 0 {
				np.ringDrops.Add(1)
			}
		})
		sr := &shardRun{p: np, ring: r}
		sr.in.init(p.MaxSeries, pp.Shards)
		sr.stored.Store(math.MinInt64)
		op, err := operators.NewShard(&oc, np.wm, sr)
		if err != nil {
			return nil, fmt.Errorf("pipeline %s: %w", p.Name, err)
		}
		sr.op = op
		np.rings = append(np.rings, r)
		np.shards = append(np.shards, sr)
	}
	return np, nil
}

// deliver pushes the readings of one message from the source at index src
// of this pipeline into the shards' rings. It runs on the source's receive
// goroutine. For a held pipeline it returns the release watermark of the
// message (holdack.go): the latest of its readings' releases.
func (p *pipe) deliver(ctx context.Context, src int, b *decode.Batch) (release int64) {
	release = math.MinInt64
	fm := p.fieldMap[src]
	if p.tagRules != nil && !decode.TagsPass(p.tagRules[src], b.Vars) {
		n := 0
		for i := range b.Readings {
			if f := b.Readings[i].Field; int(f) < len(fm) && fm[f] >= 0 {
				n++
			}
		}
		p.tagFiltered.Add(uint64(n))
		return release
	}
	set := p.handles(&b.Local)
	var (
		lastKey []byte
		id      uint32
		err     error
		// Readings bound for the same ring are pushed as one batch: a
		// message's readings usually share a series and so a shard.
		buf = &set.buf
		n   int
		cur = -1
	)
	now := clock.NowMs()
	floor := p.replayFloor.Load()
	for i := range b.Readings {
		r := &b.Readings[i]
		if int(r.Field) >= len(fm) || fm[r.Field] < 0 {
			continue
		}
		key := b.Key(i)
		if lastKey == nil || string(key) != string(lastKey) {
			id, err = p.series.Intern(key)
			lastKey = key
		}
		if err != nil {
			p.seriesRefused.Add(1)
			continue
		}
		if p.held {
			rel := p.release(r.Time)
			if rel <= floor {
				// Its window was stored before a crash or a lost
				// connection; the broker redelivered the message
				// because its ack was held.
				p.replayed.Add(1)
				continue
			}
			release = max(release, rel)
		}
		rg := 0
		if len(p.rings) > 1 {
			rg = int(id % uint32(len(p.rings)))
		}
		if rg != cur || n == len(buf) {
			if n > 0 {
				p.flush(ctx, src, set.hs[cur], buf[:n], now)
			}
			cur, n = rg, 0
		}
		// Field by field: a composite literal is built in a temporary and
		// copied with wide loads that stall on its narrow stores.
		s := &buf[n]
		s.Series = id
		s.Field = uint16(fm[r.Field])
		s.Source = uint8(src)
		s.Flags = r.Flags
		s.Time = r.Time
		s.Value = r.Value
		s.Seq = b.Seq
		n++
	}
	if n > 0 {
		p.flush(ctx, src, set.hs[cur], buf[:n], now)
	}
	if ts := p.taps.Load(); ts != nil {
		p.tapReadings(ts, src, b, now)
	}
	return release
}

// flush pushes the samples deliver gathered for one ring through handle h
// and then observes their latest time for the source's watermark: a
// marker computed from these observations is queued after the samples in
// every ring.
func (p *pipe) flush(ctx context.Context, src int, h *ring.Producer[record.Sample], ss []record.Sample, now int64) {
	p.push(ctx, h, ss)
	if !p.plan.Operators.InBandWatermarks {
		return // series scope: the shards keep the series' time
	}
	maxT := ss[0].Time
	for k := 1; k < len(ss); k++ {
		maxT = max(maxT, ss[k].Time)
	}
	if p.wm.Observe(src, maxT, now) {
		select {
		case p.dirty <- struct{}{}:
		default:
		}
	}
}

// push queues samples into a ring through producer handle h. Drops by
// policy are counted by the ring's drop hook; samples refused because the
// ring closed (or because the block policy's wait ended with ctx) are
// counted here.
func (p *pipe) push(ctx context.Context, h *ring.Producer[record.Sample], ss []record.Sample) {
	k, err := h.PushBatch(ctx, ss)
	if err != nil && !errors.Is(err, ring.ErrFull) {
		p.ringClosed.Add(uint64(len(ss) - k))
	}
}

// markers queues the pipeline watermark into every shard's ring whenever
// it advances, at most every markerInterval, and re-checks it every
// markerIdleTick for the idle fallback. Because every observation happens
// after its reading was queued, a marker is always behind the readings it
// reflects in each ring, so no shard sees a watermark ahead of its own
// queue (operators.Config.InBandWatermarks). It returns when ctx ends.
func (p *pipe) markers(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	stop := ctx.Done()
	idle := time.NewTicker(markerIdleTick)
	defer idle.Stop()
	throttle := time.NewTimer(0)
	defer throttle.Stop()
	for {
		select {
		case <-stop:
			return
		case <-p.dirty:
		case <-idle.C:
		}
		now := clock.NowMs()
		wm := p.wm.Current(now)
		if wm > p.lastMarker {
			p.lastMarker = wm
			m := record.Sample{Flags: record.FlagWatermark, Time: wm}
			for _, r := range p.rings {
				// A marker a full ring refuses or evicts is harmless: the
				// next one carries a higher watermark.
				_ = r.Push(ctx, m)
			}
		}
		throttle.Reset(markerInterval)
		select {
		case <-stop:
			return
		case <-throttle.C:
		}
	}
}

// run is the shard goroutine: drain the ring in batches, run the
// operators, publish frames. It returns after the ring was closed and
// everything in it was processed, fired and flushed.
func (s *shardRun) run(sinkCtx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	s.sinkCtx = sinkCtx
	buf := make([]record.Sample, 1024)
	for {
		err := s.in.waited(s.ring.Wait(s.in.ctx, s.waitTimeout()))
		s.now = clock.NowMs()
		if n := s.ring.Drain(buf); n > 0 {
			s.in.track(buf[:n], s.now)
			// Idleness is judged through the previous empty drain: this
			// batch's readings may have waited in the ring since then.
			s.op.Process(buf[:n], s.now)
			if n < len(buf) {
				// The ring was empty after this drain: everything that
				// reached it before s.now is now processed.
				s.op.ArrivedThrough(s.now)
			}
		} else {
			s.op.ArrivedThrough(s.now)
			s.op.Advance(s.now)
		}
		if s.pending() > 0 && s.now-s.oldestMs >= flushLinger.Milliseconds() {
			_ = s.flush(sinkCtx)
		}
		if s.pending() == 0 {
			s.stored.Store(s.op.Watermark())
		}
		s.publishStats()
		s.in.serve()
		if errors.Is(err, ring.ErrClosed) {
			break
		}
	}
	// Shutdown: fire every open window so no reading is held back, and
	// store the frame.
	s.now = clock.NowMs()
	s.op.Flush()
	if err := s.flush(sinkCtx); err != nil {
		s.p.log.Error("final flush failed", "err", err)
	}
	s.publishStats()
}

// shardIdleWait is how long a shard with no frame pending parks in its
// ring's Wait: readings, watermark markers and Close wake it at once, so
// the timeout only bounds how stale its published stats may get. A
// pending frame needs the flush linger checked: 200 ms then. In series
// scope a quiet series' windows close by the wall clock: the shard wakes
// when the next one is due (operators.Shard.NextWallCheck), and the
// gauges' once-a-second recount bounds the park to a second while any
// series has open windows.
const shardIdleWait = 5 * time.Second

func (s *shardRun) waitTimeout() time.Duration {
	if s.pending() > 0 {
		return 200 * time.Millisecond
	}
	if at, ok := s.op.NextWallCheck(); ok {
		d := time.Duration(at-clock.NowMs()) * time.Millisecond
		return min(max(d, time.Millisecond), time.Second)
	}
	return shardIdleWait
}

// publishStats makes the shard's counters readable by the metrics handler.
func (s *shardRun) publishStats() {
	st := s.op.Stats()
	s.stats.Store(&st)
}

// shardStats sums the published stats of all shards.
func (p *pipe) shardStats() operators.ShardStats {
	var t operators.ShardStats
	t.Filtered = p.tagFiltered.Load()
	for _, s := range p.shards {
		st := s.stats.Load()
		if st == nil {
			continue
		}
		t.Merge(st)
	}
	return t
}

func (p *pipe) ringDropped() uint64 { return p.ringDrops.Load() }
