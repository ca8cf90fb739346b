package operators

import (
	"math"
	"sync/atomic"
)

// NoWatermark is the watermark before any data: −∞.
const NoWatermark = math.MinInt64

// Watermarks tracks the event-time progress of one pipeline. It is shared
// by all shards of the pipeline and is safe for concurrent use: every field
// is an atomic, and no lock is taken.
//
// Per source s: WM_s = maxEventTime_s − B − 1 (WINDOWS.md rule 5).
// The pipeline watermark is the minimum of WM_s over the sources that are
// not idle. A source is idle when IdleTimeout > 0 and no sample of it was
// observed for IdleTimeout ms of wall clock (a source that never sent data
// is idle IdleTimeout ms after the first call that passed a wall clock).
//
// Wall-clock fallback: when every source is idle, each source's event clock
// is assumed to keep running at wall-clock speed from the moment it went
// idle, and the watermark becomes
//
//	min over sources with data of (maxEventTime_s + (now − lastSeen_s − IdleTimeout)) − B − 1
//
// so the last windows of a sensor that goes quiet close about
// (window end − last event time + B + IdleTimeout) ms of wall time after its
// last reading. Extrapolating from each source's own event time, rather than
// using now − B − 1, keeps the fallback correct for sensors whose clock is
// skewed against the gateway's.
//
// The pipeline watermark never moves backwards: a source that comes back
// from idle behind the watermark has its old events treated as late
// (as in Flink).
//
// In ProcessingTime mode the watermark is nowMs − 1.
//
// Shards do not write here per sample: each keeps a view of the
// per-source state, computes the watermark from it sample by sample, and
// publishes its raises at the end of each Process or Advance call; it reads
// the other shards' progress at the start of the next call.
type Watermarks struct {
	b, idle int64
	proc    bool
	start   atomic.Int64 // first wall clock seen; NoWatermark until then
	current atomic.Int64 // the published, monotone pipeline watermark
	src     []sourceWM
}

// sourceWM is padded to a cache line so shards publishing different
// sources do not false-share.
type sourceWM struct {
	max  atomic.Int64 // max event time; NoWatermark before data
	seen atomic.Int64 // wall clock of the last sample; NoWatermark before data
	_    [48]byte
}

// NewWatermarks returns the watermarks of a pipeline configured by c
// (c.Sources sources, c.OutOfOrder, c.IdleTimeout, c.TimeMode).
func NewWatermarks(c *Config) *Watermarks {
	d := c.withDefaults()
	n := d.Sources
	if n <= 0 {
		n = 1
	}
	w := &Watermarks{b: d.OutOfOrder, idle: d.IdleTimeout, proc: d.TimeMode == ProcessingTime, src: make([]sourceWM, n)}
	w.start.Store(NoWatermark)
	w.current.Store(NoWatermark)
	for i := range w.src {
		w.src[i].max.Store(NoWatermark)
		w.src[i].seen.Store(NoWatermark)
	}
	return w
}

// Observe records a sample of source src with event time t seen at wall
// clock nowMs, for callers that do not run a Shard (shards keep a local
// view and publish once per call; see Shard.Process). It reports whether t
// raised the source's maximum. Sources out of range are ignored.
func (w *Watermarks) Observe(src int, t, nowMs int64) bool {
	if uint(src) >= uint(len(w.src)) {
		return false
	}
	s := &w.src[src]
	atomicMax(&s.seen, nowMs)
	for {
		m := s.max.Load()
		if t <= m {
			return false
		}
		if s.max.CompareAndSwap(m, t) {
			return true
		}
	}
}

// atomicMax raises a to v unless it is already at least v.
func atomicMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// Current returns the pipeline watermark at wall clock nowMs and publishes
// it (monotonically).
func (w *Watermarks) Current(nowMs int64) int64 {
	w.begin(nowMs)
	var wm int64
	if w.proc {
		wm = nowMs - 1
	} else {
		var v wmView
		v.init(len(w.src))
		w.sync(&v)
		wm = w.compute(&v, nowMs)
	}
	atomicMax(&w.current, wm)
	return w.current.Load()
}

// Load returns the last published pipeline watermark without recomputing.
func (w *Watermarks) Load() int64 { return w.current.Load() }

// Idle reports whether source src is idle at wall clock nowMs.
func (w *Watermarks) Idle(src int, nowMs int64) bool {
	if uint(src) >= uint(len(w.src)) {
		return false
	}
	return w.idleAt(w.src[src].seen.Load(), nowMs)
}

// begin records the first wall clock the pipeline saw: sources that never
// send data become idle IdleTimeout after it.
func (w *Watermarks) begin(nowMs int64) {
	if w.start.Load() == NoWatermark {
		w.start.CompareAndSwap(NoWatermark, nowMs)
	}
}

func (w *Watermarks) idleAt(seen, nowMs int64) bool {
	if w.idle <= 0 {
		return false
	}
	if seen == NoWatermark {
		st := w.start.Load()
		return st != NoWatermark && nowMs-st >= w.idle
	}
	return nowMs-seen >= w.idle
}

// wmView is a copy of the per-source state, owned by one shard. A shard
// updates its view per sample without atomics, computes the watermark from
// it, and publishes its raises once per call: per-sample semantics inside a
// shard, and no cache line written by every shard for every sample.
type wmView struct {
	max, seen []int64
	raised    []bool
	any       bool
}

func (v *wmView) init(sources int) {
	v.max = make([]int64, sources)
	v.seen = make([]int64, sources)
	v.raised = make([]bool, sources)
	for i := range v.max {
		v.max[i], v.seen[i] = NoWatermark, NoWatermark
	}
}

// sync merges the shared state into v.
func (w *Watermarks) sync(v *wmView) {
	for i := range w.src {
		v.max[i] = max(v.max[i], w.src[i].max.Load())
		v.seen[i] = max(v.seen[i], w.src[i].seen.Load())
	}
}

// publish merges v's local raises into the shared state.
func (w *Watermarks) publish(v *wmView) {
	if !v.any {
		return
	}
	for i, r := range v.raised {
		if r {
			atomicMax(&w.src[i].max, v.max[i])
			atomicMax(&w.src[i].seen, v.seen[i])
			v.raised[i] = false
		}
	}
	v.any = false
}

// compute is the pipeline watermark of the state in v at nowMs (not yet
// made monotone).
func (w *Watermarks) compute(v *wmView, nowMs int64) int64 {
	if w.proc {
		return nowMs - 1
	}
	active := false
	minMax := int64(math.MaxInt64)
	fallback := int64(math.MaxInt64)
	for i, m := range v.max {
		seen := v.seen[i]
		if !w.idleAt(seen, nowMs) {
			if m == NoWatermark {
				return NoWatermark // an active source without data holds the pipeline at −∞
			}
			active = true
			minMax = min(minMax, m)
			continue
		}
		if m == NoWatermark {
			continue
		}
		fallback = min(fallback, satAdd(m, nowMs-seen-w.idle))
	}
	switch {
	case active:
		return satAdd(minMax, -w.b-1)
	case fallback != math.MaxInt64:
		return satAdd(fallback, -w.b-1)
	}
	return NoWatermark
}

// satAdd returns a+b clamped to the int64 range.
func satAdd(a, b int64) int64 {
	s := a + b
	if b > 0 && s < a {
		return math.MaxInt64
	}
	if b < 0 && s > a {
		return math.MinInt64
	}
	return s
}
