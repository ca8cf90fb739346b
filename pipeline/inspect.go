package pipeline

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
	"time"

	"github.com/edgeplane/edgeplane/record"
)

// Inspection of a running shard (the read API, api.go). The shard
// goroutine owns the operator state, so a query is a function the shard
// runs between two batches: the HTTP handler queues it on the shard's
// inspector and wakes the shard if it is parked; the shard runs every
// queued query after its batch (a non-blocking receive per loop
// iteration when none is queued) and the handler waits for the answer or
// its timeout. Queries read state only.

// inspectQueue bounds the queries waiting for one shard; a handler that
// finds it full answers 503.
const inspectQueue = 16

// inspectTimeout bounds how long a handler waits for a shard's answer.
const inspectTimeout = 2 * time.Second

// errShardBusy is returned when a shard did not answer in time (it is
// stopped, or the queue is full).
var errShardBusy = errors.New("the shard did not answer in time")

// maxWatched bounds the series per shard whose last emissions are kept
// (watch): the series someone asked about.
const maxWatched = 256

// inspector is one shard's query queue and the per-series facts the shard
// records for the API. Everything but reqs and cancel is owned by the
// shard goroutine.
type inspector struct {
	reqs chan func()
	// ctx is the context of the shard's ring.Wait; a query cancels it to
	// wake a parked shard, and the shard then makes a new one.
	ctx    context.Context
	cancel atomic.Pointer[context.CancelFunc]

	// Per series routed to this shard, indexed by id / shards: the latest
	// event time seen and the wall clock of the last arrival (ms).
	div  uint32
	last []seriesSeen
	// watch holds, for the series the API was asked about, the last
	// emitted aggregate per field (End == 0: none yet).
	watch map[uint32][]record.Aggregate
}

// seriesSeen is what a shard records per series: together, so one cache
// line serves both. The zero value is a series not seen yet (arrival 0),
// so that the slice, sized for max_series, is written — and resident —
// only for the series that arrive.
type seriesSeen struct {
	event, arrival int64 // latest event time, wall clock of the last arrival (ms)
}

// seen reports whether the series has had a reading.
func (l *seriesSeen) seen() bool { return l.arrival != 0 }

func (in *inspector) init(maxSeries, shards int) {
	in.reqs = make(chan func(), inspectQueue)
	in.renew()
	in.div = uint32(shards)
	in.last = make([]seriesSeen, maxSeries/shards+1)
}

// renew makes a fresh wait context (the last one was cancelled by a query).
func (in *inspector) renew() {
	ctx, cancel := context.WithCancel(context.Background())
	in.ctx = ctx
	in.cancel.Store(&cancel)
}

// waited is called by the shard after ring.Wait returned err: a wake-up by
// a query renews the context and is no error.
func (in *inspector) waited(err error) error {
	if err != nil && in.ctx.Err() != nil && errors.Is(err, in.ctx.Err()) {
		in.renew()
		return nil
	}
	return err
}

// track records the series' latest event time and arrival. It runs on the
// shard goroutine for every drained batch: one pass, one cache line per
// series.
func (in *inspector) track(ss []record.Sample, now int64) {
	last, div := in.last, in.div
	for i := range ss {
		smp := &ss[i]
		j := int(smp.Series / div)
		if smp.Flags&record.FlagWatermark != 0 || j >= len(last) {
			continue
		}
		l := &last[j]
		if !l.seen() || smp.Time > l.event {
			l.event = smp.Time
		}
		l.arrival = max(now, 1) // 0 is "not seen"
	}
}

// serve runs the queued queries; the shard calls it between batches.
func (in *inspector) serve() {
	for {
		select {
		case fn := <-in.reqs:
			fn()
		default:
			return
		}
	}
}

// noteEmit keeps a watched series's emission. Shard goroutine.
func (in *inspector) noteEmit(a *record.Aggregate) {
	if fs, ok := in.watch[a.Series]; ok && int(a.Field) < len(fs) {
		fs[a.Field] = *a
	}
}

// ask runs fn on the shard goroutine and waits for it, for ctx or for
// inspectTimeout. fn must only write to memory the caller reads after ask
// returned nil.
func (s *shardRun) ask(ctx context.Context, fn func()) error {
	done := make(chan struct{})
	select {
	case s.in.reqs <- func() { fn(); close(done) }:
	default:
		return errShardBusy
	}
	if c := s.in.cancel.Load(); c != nil {
		(*c)()
	}
	t := time.NewTimer(inspectTimeout)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		return errShardBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

// seriesState is what a shard knows of one series.
type seriesState struct {
	lastEvent, lastArrival, watermark int64
	openWindows                       int
	open                              []record.Aggregate // partial aggregates (detail only)
	last                              []record.Aggregate // last emission per field (detail only)
}

// seriesInfo answers for the series ids (all routed to s); with detail,
// their open windows' partial aggregates and last emissions too, and the
// series become watched. Shard goroutine.
func (s *shardRun) seriesInfo(ids []uint32, detail bool, out []seriesState) {
	var st *seriesState
	visit := func(a *record.Aggregate) { // one closure for every series
		st.openWindows++
		if detail {
			st.open = append(st.open, *a)
		}
	}
	for k, id := range ids {
		st = &out[k]
		st.lastEvent, st.lastArrival = math.MinInt64, math.MinInt64
		if j := int(id / s.in.div); j < len(s.in.last) && s.in.last[j].seen() {
			st.lastEvent, st.lastArrival = s.in.last[j].event, s.in.last[j].arrival
		}
		st.watermark = s.op.SeriesWatermark(id)
		s.op.OpenWindows(id, visit)
		if !detail {
			continue
		}
		fs, ok := s.in.watch[id]
		if !ok {
			if s.in.watch == nil {
				s.in.watch = map[uint32][]record.Aggregate{}
			}
			if len(s.in.watch) >= maxWatched {
				for k := range s.in.watch { // forget one at random
					delete(s.in.watch, k)
					break
				}
			}
			fs = make([]record.Aggregate, s.op.Fields())
			s.in.watch[id] = fs
		}
		for _, a := range fs {
			if a.End != 0 {
				st.last = append(st.last, a)
			}
		}
	}
}

// seriesWatermarks appends the watermark of every series of the shard
// that has had a reading. Shard goroutine.
func (s *shardRun) seriesWatermarks(dst []int64) []int64 {
	for j := range s.in.last {
		if !s.in.last[j].seen() {
			continue
		}
		id := uint32(j)*s.in.div + uint32(s.index())
		dst = append(dst, s.op.SeriesWatermark(id))
	}
	return dst
}

// index is the shard's position in its pipeline (series id % shards).
func (s *shardRun) index() int {
	for i, x := range s.p.shards {
		if x == s {
			return i
		}
	}
	return 0
}
