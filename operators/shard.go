package operators

import (
	"fmt"
	"sync/atomic"

	"github.com/edgeplane/edgeplane/record"
)

// Emitter receives what a Shard produces. Its methods are called
// synchronously from the shard's goroutine.
type Emitter interface {
	// Emit receives a window result. a is only valid during the call:
	// copy it to keep it.
	Emit(a *record.Aggregate)
	// Late receives an event that no window accepted (already counted in
	// ShardStats.Late), as it left the stateless chain (mapped value). s is
	// only valid during the call.
	Late(s *record.Sample)
}

// ShardStats are a shard's counters. Every sample that enters Process is
// counted in SamplesIn and, unless it reached a window, in exactly one of
// Filtered, Deduped, Deadbanded, Late or Refused*.
type ShardStats struct {
	SamplesIn  uint64
	Filtered   uint64 // dropped by a Filter
	Deduped    uint64 // dropped by Dedup
	Deadbanded uint64 // suppressed by a Deadband
	// Late counts events no window accepted (sent to Emitter.Late).
	Late uint64
	// LateAccepted counts events that arrived behind the watermark for at
	// least one of their windows and were still accepted (allowed lateness).
	LateAccepted uint64
	// Emitted counts aggregates passed to Emitter.Emit; Refired those of
	// them that were re-firings (Revision > 0).
	Emitted uint64
	Refired uint64
	// Retracted counts session ids retracted (record.AggRetracted records
	// passed to Emitter.Emit, not counted in Emitted).
	Retracted uint64
	// Purged counts window (or pane) state slots released.
	Purged uint64
	// RefusedSeries: series id >= MaxSeries. RefusedField: field id >=
	// Fields. RefusedSource: source >= Sources. RefusedWindows: the
	// per-(series, field) MaxOpenWindows or the shard's StateBudget was
	// exhausted (the sample is dropped; or, rarely, a hopping window's
	// bookkeeping pane could not be made and its revisions restart at 0).
	RefusedSeries  uint64
	RefusedField   uint64
	RefusedSource  uint64
	RefusedWindows uint64
	// RefusedTime: event time beyond Config.MaxFuture ahead of the wall
	// clock, or outside ±2⁶² ms.
	RefusedTime uint64
	// SketchRefused counts windows (or panes) that got no quantile sketch
	// because SketchBudget was exhausted; their aggregates have NQ = 0.
	SketchRefused uint64
	// OpenSlots is the number of window (or pane) slots in use (a gauge).
	OpenSlots uint64
	// Watermark is the shard's view of the pipeline watermark; in
	// SeriesScope, the lowest watermark of its active series.
	Watermark int64
	// SeriesScope only, recounted about once a second: the series with
	// data that sent within IdleTimeout (SeriesActive) or not (SeriesIdle),
	// and the largest wall clock − WM_k over the active ones (MaxLagMs).
	SeriesActive, SeriesIdle uint64
	MaxLagMs                 int64
}

// Merge adds o, another shard's stats of the same pipeline, into st:
// counters and the OpenSlots and series gauges add up, MaxLagMs is the
// larger, Watermark the lower (0 stands for none yet).
func (st *ShardStats) Merge(o *ShardStats) {
	st.SamplesIn += o.SamplesIn
	st.Filtered += o.Filtered
	st.Deduped += o.Deduped
	st.Deadbanded += o.Deadbanded
	st.Late += o.Late
	st.LateAccepted += o.LateAccepted
	st.Emitted += o.Emitted
	st.Refired += o.Refired
	st.Retracted += o.Retracted
	st.Purged += o.Purged
	st.RefusedSeries += o.RefusedSeries
	st.RefusedField += o.RefusedField
	st.RefusedSource += o.RefusedSource
	st.RefusedWindows += o.RefusedWindows
	st.RefusedTime += o.RefusedTime
	st.SketchRefused += o.SketchRefused
	st.OpenSlots += o.OpenSlots
	st.SeriesActive += o.SeriesActive
	st.SeriesIdle += o.SeriesIdle
	st.MaxLagMs = max(st.MaxLagMs, o.MaxLagMs)
	if st.Watermark == 0 || o.Watermark < st.Watermark {
		st.Watermark = o.Watermark
	}
}

// Refused sums the samples the shard refused: every Refused* counter but
// SketchRefused (whose windows still count their samples). One exception
// in RefusedWindows: a hopping window's bookkeeping pane that could not be
// made counts there too, with no sample refused (see RefusedWindows).
func (st ShardStats) Refused() uint64 {
	return st.RefusedSeries + st.RefusedField + st.RefusedSource + st.RefusedWindows + st.RefusedTime
}

const (
	cIn = iota
	cFiltered
	cDeduped
	cDeadbanded
	cLate
	cLateAccepted
	cEmitted
	cRefired
	cPurged
	cRefusedSeries
	cRefusedField
	cRefusedSource
	cRefusedWindows
	cRefusedTime
	cSketchRefused
	cOpen
	cWatermark
	cRetracted
	cSeriesActive
	cSeriesIdle
	cMaxLag
	nCounters
)

// slot is one pane (tumbling, hopping: [start, start+pane)) or one session
// window ([start, end)) of one (series, field). Slots live in a
// preallocated pool and link into per-key lists sorted by start.
//
// Field order is for the hot path: start, the links and the first words of
// acc (count, sum, min, max) share the slot's first 64 bytes.
type slot struct {
	start      int64
	prev, next int32
	acc        acc
	end        int64 // session: its end; pane: lastWin(start)+size
	sk         int32 // sketch index, -1 = none
	key        int32
	// late and fires are the window's accepted late events and emissions
	// so far (Late and Revision): of the session, or of the aligned window
	// starting at this pane.
	late  uint32
	fires uint32
	dirty bool // sessions: changed since the last emission
	// retIn (sessions): an id retracted into this session lies inside
	// its span (session_ids.go).
	retIn bool
}

// keyState is the per-(series, field) state: a list of slots sorted by
// start and, for tumbling/hopping, the firing cursor.
type keyState struct {
	head, tail int32
	n          uint16
	// gk is the key's (series, field): series × fields + field. Keys are
	// numbered in order of first use (Shard.keyFor), not by gk.
	gk uint32
	// cursor is the start of the last window handled by firing: every
	// window starting at or before it has been emitted, skipped as empty,
	// or found expired. NoWatermark before the first.
	cursor int64
}

// Shard owns the window state of the series routed to it. It is not safe
// for concurrent use: one goroutine calls Process, Advance and Flush.
// Stats may be called from any goroutine; it reports the counters as of the
// end of the last Process, Advance or Flush call.
type Shard struct {
	cfg       Config
	set       AggSet
	kind      record.WindowKind
	mode      EmitMode
	proc      bool
	maxFuture int64
	fields    int32
	series    uint32
	maxOpen   uint16
	wm        *Watermarks
	out       Emitter
	// cur is the watermark the window code judges and fires against: the
	// shard's view of the pipeline watermark, or in SeriesScope the
	// watermark of the series at hand (series.go).
	cur       int64
	perSeries bool
	sc        seriesClock
	view      wmView // this shard's view of the per-source event time
	b         int64  // OutOfOrder

	// window geometry (ms)
	size, adv, pane, off, gap, lateness int64
	fireDelay                           int64 // 0 (update) or lateness (final)
	// size = sizeQ + sizeR, sizeQ a multiple of adv, 0 <= sizeR < adv:
	// firstWin from lastWin without a division (firstWinFrom).
	sizeQ, sizeR int64
	// The last window and pane ranges seen by addAligned (alignCache).
	winC, paneC alignCache

	chain chain
	slots []slot
	free  int32 // the free list of returned slots, -1 = empty
	// fresh is the first slot never handed out: slots at and above it
	// are untouched, so their memory pages stay out of the process's
	// resident set until the shard needs them (residency.go).
	fresh int32
	// keys are the (series, field) keys in use, numbered in order of
	// first use; keyIdx maps series × fields + field to its key + 1 (0:
	// none yet), so that only the pairs seen are resident.
	keys   []keyState
	keyIdx []uint32
	nkeys  int32
	// ready is the number of series whose keys (and, in SeriesScope,
	// series clocks) are initialised; prepare grows it in chunks.
	ready  uint32
	timers timerHeap

	// Quantiles (sketch_sparse.go): every slot's sparseSketch, by slot
	// index, and the pool of dense sketches a window moves to when it
	// needs more buckets.
	sparse   []sparseSketch
	sketches []Sketch
	skFree   []int32
	skProto  Sketch // parameters only
	spareSk  Sketch // a sparseSketch replayed for emission (skOf)
	quant    []float64

	scratch   acc
	scratchSk Sketch
	agg       record.Aggregate
	lateBuf   record.Sample

	// Sessions (session_ids.go): per key, the span of the latest purged
	// session; the retractions waiting for their session's next firing.
	purged []purgedSpan
	rets   []retraction

	c   [nCounters]uint64
	pub [nCounters]atomic.Uint64
}

// NewShard returns a shard for the pipeline configured by c, reading and
// publishing event time through wm (one per pipeline, shared by its shards)
// and emitting to out. It preallocates all window, timer and sketch state
// (c.StateBudget slots, sized by c.Shards by default); Process then
// allocates nothing. Series ids index the state directly, so a shard
// accepts any id below c.MaxSeries; routing (series % shards) is the
// caller's.
func NewShard(c *Config, wm *Watermarks, out Emitter) (*Shard, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("operators: invalid config: %w", err)
	}
	if wm == nil || out == nil {
		return nil, fmt.Errorf("operators: NewShard needs watermarks and an emitter")
	}
	d := c.withDefaults()
	if len(wm.src) != d.Sources || wm.b != d.OutOfOrder || wm.proc != (d.TimeMode == ProcessingTime) {
		return nil, fmt.Errorf("operators: watermarks made for another configuration (sources %d, out_of_order %d ms), want sources %d, out_of_order %d ms",
			len(wm.src), wm.b, d.Sources, d.OutOfOrder)
	}
	keys := d.MaxSeries * d.Fields
	a := &arena{}
	s := &Shard{
		cfg:       d,
		set:       d.Aggregates,
		kind:      d.Kind,
		mode:      d.Mode,
		proc:      d.TimeMode == ProcessingTime,
		maxFuture: d.MaxFuture,
		fields:    int32(d.Fields),
		series:    uint32(d.MaxSeries),
		maxOpen:   uint16(d.MaxOpenWindows),
		wm:        wm,
		out:       out,
		cur:       NoWatermark,
		b:         d.OutOfOrder,
		size:      d.Size,
		adv:       d.Advance,
		off:       d.Offset,
		gap:       d.Gap,
		lateness:  d.AllowedLateness,
		chain:     newChain(&d, keys, a),
		slots:     arenaMake[slot](a, d.StateBudget),
		keys:      arenaMake[keyState](a, keys),
		keyIdx:    arenaMake[uint32](a, keys),
		quant:     d.Quantiles,
	}
	s.view.init(len(wm.src))
	if d.seriesScope() {
		s.perSeries = true
		s.sc = newSeriesClock(d.MaxSeries, d.IdleTimeout, a)
	}
	if d.Mode == Final {
		s.fireDelay = d.AllowedLateness
	}
	s.free = -1 // slots come from fresh until some are returned
	if d.Kind == record.Session {
		s.timers = newTimerHeap(len(s.slots), a)
		s.purged = arenaMake[purgedSpan](a, keys)
		s.rets = make([]retraction, 0, maxPendingRetractions)
	} else {
		s.pane = gcd(d.Size, d.Advance)
		s.sizeR = s.size % s.adv
		s.sizeQ = s.size - s.sizeR
		s.winC, s.paneC = newAlignCache(s.adv), newAlignCache(s.pane)
		s.timers = newTimerHeap(keys, a)
	}
	if d.Aggregates&Quantiles != 0 {
		s.skProto.Init(d.SketchAlpha)
		s.scratchSk.Init(d.SketchAlpha)
		s.spareSk.Init(d.SketchAlpha)
		s.sparse = arenaMake[sparseSketch](a, len(s.slots))
		s.sketches = arenaMake[Sketch](a, d.SketchBudget)
		s.skFree = make([]int32, len(s.sketches))
		for i := range s.skFree {
			s.skFree[i] = int32(len(s.sketches) - 1 - i)
		}
	}
	releaseWith(s, a)
	return s, nil
}

// Config returns the shard's configuration with defaults applied.
func (s *Shard) Config() Config { return s.cfg }

// Watermark returns the shard's view of the pipeline watermark. In
// SeriesScope it is the watermark of the series last handled: during an
// Emitter call, that of the series the aggregate or late event belongs to.
func (s *Shard) Watermark() int64 { return s.cur }

// Process runs a batch through the shard at wall clock nowMs. Per sample:
// the stateless chain; window assignment, accepted or late against the
// watermark before this sample; then the sample's time is observed into
// the watermark, and whatever the new watermark allows fires and purges.
// batch is not retained or modified.
func (s *Shard) Process(batch []record.Sample, nowMs int64) {
	if s.perSeries {
		s.processSeries(batch, nowMs)
		return
	}
	if s.cfg.InBandWatermarks {
		s.processInBand(batch, nowMs)
		return
	}
	s.sync(nowMs)
	v := &s.view
	for i := range batch {
		smp := batch[i]
		s.c[cIn]++
		if !s.proc && (smp.Time > maxTime || smp.Time < -maxTime || (s.maxFuture > 0 && smp.Time > nowMs+s.maxFuture)) {
			s.c[cRefusedTime]++
			continue
		}
		src := int(smp.Source)
		if src >= len(v.max) {
			s.c[cRefusedSource]++
			continue
		}
		s.assign(&smp, nowMs)
		// Every sample with a plausible time is evidence of its source's
		// progress, whatever the chain or the windows did with it (as in
		// Flink, where watermarks are generated before filtering): a flat
		// sensor whose readings a deadband suppresses must still close its
		// windows.
		t := smp.Time
		if s.proc {
			t = nowMs
		}
		if v.seen[src] < nowMs {
			v.seen[src] = nowMs
			v.raised[src], v.any = true, true
		}
		if old := v.max[src]; t > old {
			v.max[src] = t
			v.raised[src], v.any = true, true
			// Raising a source that was ahead of the watermark cannot raise
			// the minimum: recompute only when it may have been the minimum.
			if old == NoWatermark || satAdd(old, -s.b-1) <= s.cur {
				s.advanceTo(s.wm.compute(v, nowMs))
			}
		}
	}
	s.wm.publish(v)
	atomicMax(&s.wm.current, s.cur)
	s.publish()
}

// assign runs one sample through the bounds checks, the stateless chain
// and its window assigner.
func (s *Shard) assign(smp *record.Sample, nowMs int64) {
	if smp.Series >= s.series {
		s.c[cRefusedSeries]++
		return
	}
	if smp.Series >= s.ready {
		s.prepare(smp.Series)
	}
	if int32(smp.Field) >= s.fields {
		s.c[cRefusedField]++
		return
	}
	key := s.keyFor(smp.Series, int32(smp.Field))
	if s.chain.active {
		if v := s.chain.apply(smp, int(key)); v != keep {
			s.c[cFiltered+int(v)-1]++
			return
		}
	}
	if s.proc {
		// After the chain: dedup and deadband see the reading's own time.
		smp.Time = nowMs
	}
	if s.kind == record.Session {
		s.addSession(smp, key)
	} else {
		s.addAligned(smp, key)
	}
}

// Advance re-reads the pipeline watermark at wall clock nowMs (other shards
// or the wall-clock fallback may have moved it) and fires and purges what
// it allows. Call it on a ticker when no data arrives.
func (s *Shard) Advance(nowMs int64) {
	if s.perSeries {
		s.idleTick(min(nowMs, s.sc.arrived))
		s.scanSeries(nowMs)
		s.publish()
		return
	}
	if s.cfg.InBandWatermarks {
		// The watermark arrives only in band (Config.InBandWatermarks).
		s.publish()
		return
	}
	s.sync(nowMs)
	atomicMax(&s.wm.current, s.cur)
	s.publish()
}

// Flush emits every open window now, flagged record.AggFinal (windows
// already emitted are emitted again with the next revision, so every
// window's last emission is final), and purges all state. It is meant for
// shutdown: data processed afterwards starts windows afresh (revisions
// restart at 0).
func (s *Shard) Flush() {
	if s.kind == record.Session {
		s.flushSessions()
	} else {
		s.flushAligned()
	}
	s.timers.clear()
	s.publish()
}

// Stats returns the shard's counters as of the end of its last Process,
// Advance or Flush call. It is safe to call from any goroutine.
func (s *Shard) Stats() ShardStats {
	var c [nCounters]uint64
	for i := range c {
		c[i] = s.pub[i].Load()
	}
	return ShardStats{
		SamplesIn: c[cIn], Filtered: c[cFiltered], Deduped: c[cDeduped], Deadbanded: c[cDeadbanded],
		Late: c[cLate], LateAccepted: c[cLateAccepted], Emitted: c[cEmitted], Refired: c[cRefired], Retracted: c[cRetracted],
		Purged: c[cPurged], RefusedSeries: c[cRefusedSeries], RefusedField: c[cRefusedField],
		RefusedSource: c[cRefusedSource], RefusedWindows: c[cRefusedWindows], RefusedTime: c[cRefusedTime],
		SketchRefused: c[cSketchRefused], OpenSlots: c[cOpen], Watermark: int64(c[cWatermark]),
		SeriesActive: c[cSeriesActive], SeriesIdle: c[cSeriesIdle], MaxLagMs: int64(c[cMaxLag]),
	}
}

// publish copies the counters to their atomic mirror: a dozen stores per
// call instead of atomics per sample.
func (s *Shard) publish() {
	s.c[cWatermark] = uint64(s.cur)
	if s.perSeries {
		s.c[cWatermark] = uint64(s.sc.minWM)
		s.c[cSeriesActive], s.c[cSeriesIdle], s.c[cMaxLag] = uint64(s.sc.active), uint64(s.sc.idleN), uint64(s.sc.maxLagMs)
	}
	for i := range s.c {
		s.pub[i].Store(s.c[i])
	}
}

// sync merges the shared per-source state into the shard's view and raises
// the shard's watermark to what the view and the published pipeline
// watermark allow, firing what is due.
// processInBand is Process under Config.InBandWatermarks: readings are
// assigned against the watermark of the last marker seen; a marker
// advances it and fires what it allows.
func (s *Shard) processInBand(batch []record.Sample, nowMs int64) {
	for i := range batch {
		smp := batch[i]
		if smp.Flags&record.FlagWatermark != 0 {
			s.advanceTo(smp.Time)
			continue
		}
		s.c[cIn]++
		if !s.proc && (smp.Time > maxTime || smp.Time < -maxTime || (s.maxFuture > 0 && smp.Time > nowMs+s.maxFuture)) {
			s.c[cRefusedTime]++
			continue
		}
		if int(smp.Source) >= len(s.view.max) {
			s.c[cRefusedSource]++
			continue
		}
		s.assign(&smp, nowMs)
	}
	s.publish()
}

func (s *Shard) sync(nowMs int64) {
	s.wm.begin(nowMs)
	s.wm.sync(&s.view)
	s.advanceTo(max(s.wm.compute(&s.view, nowMs), s.wm.current.Load()))
}

// advanceTo raises the shard's watermark to w (never lowers it) and fires
// what is due.
func (s *Shard) advanceTo(w int64) {
	if w > s.cur {
		s.cur = w
		s.fire()
	}
}

// fire runs every timer due at the current watermark. Each handler either
// unschedules its owner or moves it past the watermark.
func (s *Shard) fire() {
	for {
		at, o, ok := s.timers.peek()
		if !ok || at > s.cur {
			return
		}
		if s.kind == record.Session {
			s.onSessionTimer(o)
		} else {
			s.onAlignedTimer(o)
		}
	}
}

func (s *Shard) late(smp *record.Sample) {
	s.c[cLate]++
	s.lateBuf = *smp
	s.out.Late(&s.lateBuf)
}

// allocSlot takes a slot from the pool for key, or returns -1 (counted)
// when the key's MaxOpenWindows or the pool is exhausted.
func (s *Shard) allocSlot(key int32) int32 {
	k := &s.keys[key]
	i := s.free
	switch {
	case k.n >= s.maxOpen:
		i = -1
	case i >= 0:
		s.free = s.slots[i].next
	case s.fresh < int32(len(s.slots)):
		i = s.fresh
		s.fresh++
		s.freshSlot(i)
	}
	if i < 0 {
		s.c[cRefusedWindows]++
		return -1
	}
	sl := &s.slots[i]
	*sl = slot{prev: -1, next: -1, sk: -1, key: key}
	if s.set&Quantiles != 0 {
		s.sparse[i].reset()
	}
	k.n++
	s.c[cOpen]++
	return i
}

// insertAfter links slot i into key's list after slot p (-1: at the head).
func (s *Shard) insertAfter(key, p, i int32) {
	k := &s.keys[key]
	sl := &s.slots[i]
	sl.prev = p
	if p < 0 {
		sl.next = k.head
		k.head = i
	} else {
		sl.next = s.slots[p].next
		s.slots[p].next = i
	}
	if sl.next >= 0 {
		s.slots[sl.next].prev = i
	} else {
		k.tail = i
	}
}

// freeSlot unlinks slot i from its key's list and returns it to the pool.
func (s *Shard) freeSlot(i int32) {
	sl := &s.slots[i]
	k := &s.keys[sl.key]
	if sl.prev >= 0 {
		s.slots[sl.prev].next = sl.next
	} else {
		k.head = sl.next
	}
	if sl.next >= 0 {
		s.slots[sl.next].prev = sl.prev
	} else {
		k.tail = sl.prev
	}
	s.skRelease(i)
	k.n--
	sl.next = s.free
	s.free = i
	s.c[cOpen]--
	s.c[cPurged]++
}

// emit fills the shard's result record from a (and sk, may be nil) and
// passes it to the emitter.
func (s *Shard) emit(key int32, start, end int64, a *acc, sk *Sketch, rev, late uint32, final bool) {
	g := s.fillAgg(key, start, end, a, sk, rev, late)
	if final {
		g.Flags |= record.AggFinal
	}
	s.c[cEmitted]++
	if rev > 0 {
		s.c[cRefired]++
	}
	s.out.Emit(g)
}

// fillAgg fills the shard's result record with the window [start, end)
// of key from a (and sk, may be nil) and returns it.
func (s *Shard) fillAgg(key int32, start, end int64, a *acc, sk *Sketch, rev, late uint32) *record.Aggregate {
	g := &s.agg
	series, field := s.pairOf(key)
	*g = record.Aggregate{
		Series:   series,
		Field:    field,
		Kind:     s.kind,
		Revision: rev,
		Late:     late,
		Start:    start,
		End:      end,
	}
	a.fill(g, s.set)
	if sk != nil && sk.count > 0 {
		g.NQ = uint8(len(s.quant))
		for i, q := range s.quant {
			g.Q[i] = q
			g.QV[i] = sk.Quantile(q)
		}
	}
	return g
}

// floorMod returns a mod m in [0, m).
func floorMod(a, m int64) int64 {
	r := a % m
	if r < 0 {
		r += m
	}
	return r
}

// alignDown returns the largest start <= t aligned to step (plus offset):
// WINDOWS.md rule 3, start = t − floorMod(t − offset, step).
func (s *Shard) alignDown(t, step int64) int64 { return t - floorMod(t-s.off, step) }
