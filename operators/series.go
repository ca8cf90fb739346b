package operators

import (
	"math"
	"unsafe"

	"github.com/edgeplane/edgeplane/record"
)

// Per-series event time (Config.Watermark = SeriesScope, WINDOWS.md D).
//
// Each series k has its own watermark WM_k = max_k − B − 1, raised by its
// own readings only, and judged and fired against by its own windows only:
// the shard sets s.cur to WM_k before it assigns a reading of k or runs a
// timer of k, so the window code (aligned.go, session.go) is the same in
// both scopes. A series lives in one shard (routing is by series id), so
// its time needs no sharing, no atomics and no markers through the rings.
//
// Event-time timers stay in the shard's timer heap (one per key, or per
// session slot), but are not popped from its top: a series' raise runs
// only that series' due timers (fireSeries). seriesTime.next is a lower
// bound of the series' earliest timer, so an in-order reading that moves
// WM_k and has nothing due costs one comparison.
//
// Idle series (rule 5 per series): after IdleTimeout ms of wall clock
// without a reading, WM_k follows the wall clock,
//
//	WM_k(now) = max_k + (now − seen_k − IdleTimeout) − B − 1
//
// so the last windows of a quiet series close by themselves. A second
// heap, ordered by wall clock (wall), holds one entry per series with
// open state: when the series may go idle (seen + IdleTimeout), then when
// its next window is due under the fallback. An entry that comes due
// early (the series kept sending) is moved, not acted on; a series
// without open state leaves the heap. Readings never touch the heap
// except to enter a series that is not in it, so the fallback costs no
// scan of the series and nothing per reading.

// seriesTime is one series' event-time state (32 bytes: a series' reads
// share one cache line).
type seriesTime struct {
	max  int64 // highest event time seen; NoWatermark before data
	seen int64 // wall clock of the last reading; NoWatermark before data
	wm   int64 // WM_k, monotone
	next int64 // lower bound of the series' earliest event-time timer
}

// seriesClock is the per-series state of a shard in SeriesScope.
type seriesClock struct {
	st   []seriesTime // by series id
	wall timerHeap    // owner = series id, at = wall clock ms to look again
	idle int64        // IdleTimeout

	// arrived: every sample that reached the shard before this wall
	// clock (ms) has been processed (ArrivedThrough); MaxInt64 until the
	// caller says, and the fallback then runs at nowMs.
	arrived int64

	// Published by scan (at most once per scanEvery of wall clock).
	nextScan                int64
	active, idleN, maxLagMs int64
	minWM                   int64
}

// scanEvery is how often (wall ms) a shard recounts its active and idle
// series and their largest watermark lag, for the gauges.
const scanEvery = 1000

func newSeriesClock(series int, idle int64, a *arena) seriesClock {
	// Shard.prepare initialises st and the wall heap's owners as series
	// arrive.
	return seriesClock{st: arenaMake[seriesTime](a, series), wall: newTimerHeap(series, a), idle: idle, minWM: NoWatermark,
		arrived: math.MaxInt64}
}

// ArrivedThrough tells the shard that every sample that reached it (its
// ring) before wall clock ms has been passed to Process. The per-series
// idle fallback then judges idleness at the earlier of ms and Process's or
// Advance's nowMs: a series is idle when no reading of it arrived for
// IdleTimeout, and a shard running behind its ring does not know that
// of the readings still waiting there. Without it, a shard that fell
// IdleTimeout behind took the series waiting in its ring as idle and
// counted their readings as late. Only SeriesScope reads it; like
// Process, it belongs to the shard's goroutine.
func (s *Shard) ArrivedThrough(ms int64) { s.sc.arrived = ms }

// processSeries is Process in SeriesScope.
func (s *Shard) processSeries(batch []record.Sample, nowMs int64) {
	s.idleTick(min(nowMs, s.sc.arrived))
	sc := &s.sc
	for i := range batch {
		smp := batch[i]
		s.c[cIn]++
		if smp.Time > maxTime || smp.Time < -maxTime || (s.maxFuture > 0 && smp.Time > nowMs+s.maxFuture) {
			s.c[cRefusedTime]++
			continue
		}
		if int(smp.Source) >= len(s.view.max) {
			s.c[cRefusedSource]++
			continue
		}
		if smp.Series >= s.series {
			s.c[cRefusedSeries]++
			continue
		}
		if smp.Series >= s.ready {
			s.prepare(smp.Series)
		}
		st := &sc.st[smp.Series]
		s.cur = st.wm
		s.assign(&smp, nowMs)
		// As in pipeline scope, every plausible reading is evidence of its
		// series' progress, whatever the chain or the windows did with it.
		st.seen = nowMs
		if smp.Time > st.max {
			st.max = smp.Time
			if w := satAdd(smp.Time, -s.b-1); w > st.wm {
				st.wm, s.cur = w, w
				if w >= st.next {
					s.fireSeries(smp.Series, st)
				}
			}
		}
		if sc.wall.pos[smp.Series] < 0 {
			sc.wall.set(int32(smp.Series), satAdd(nowMs, sc.idle))
		}
	}
	s.scanSeries(nowMs)
	s.publish()
}

// idleTick runs the wall-clock fallback for the series whose entries in
// the wall heap are due at nowMs, a wall clock through which every
// arrival has been processed (ArrivedThrough).
func (s *Shard) idleTick(nowMs int64) {
	sc := &s.sc
	for {
		at, o, ok := sc.wall.peek()
		if !ok || at > nowMs {
			return
		}
		st := &sc.st[o]
		if idleAt := satAdd(st.seen, sc.idle); nowMs < idleAt {
			sc.wall.set(o, idleAt) // it kept sending: look again when it may be idle
			continue
		}
		if w := satAdd(satAdd(st.max, nowMs-st.seen-sc.idle), -s.b-1); w > st.wm {
			st.wm = w
		}
		if st.wm >= st.next {
			s.cur = st.wm
			s.fireSeries(uint32(o), st)
		}
		if st.next == math.MaxInt64 {
			sc.wall.remove(o) // nothing open: a new reading puts it back
			continue
		}
		// Idle, WM_k moves with the wall clock: the next timer is due in
		// next − WM_k ms.
		sc.wall.set(o, satAdd(nowMs, st.next-st.wm))
	}
}

// fireSeries runs the timers of series ser that are due at s.cur (= its
// watermark) and leaves st.next at its earliest remaining timer.
func (s *Shard) fireSeries(ser uint32, st *seriesTime) {
	next := int64(math.MaxInt64)
	for f := range s.fields {
		key := s.keyOf(ser, f)
		if key < 0 {
			continue
		}
		if s.kind == record.Session {
			for i := s.keys[key].head; i >= 0; {
				nx := s.slots[i].next
				if at, ok := s.timers.scheduledAt(i); ok && at <= s.cur {
					s.onSessionTimer(i)
				}
				i = nx
			}
			for i := s.keys[key].head; i >= 0; i = s.slots[i].next {
				if at, ok := s.timers.scheduledAt(i); ok {
					next = min(next, at)
				}
			}
			continue
		}
		if at, ok := s.timers.scheduledAt(key); ok && at <= s.cur {
			s.onAlignedTimer(key)
		}
		if at, ok := s.timers.scheduledAt(key); ok {
			next = min(next, at)
		}
	}
	st.next = next
}

// noteTimer lowers the series' timer bound when key gets a timer at at.
func (s *Shard) noteTimer(key int32, at int64) {
	ser, _ := s.pairOf(key)
	if st := &s.sc.st[ser]; at < st.next {
		st.next = at
	}
}

// useSeriesWM makes s.cur the watermark of key's series (SeriesScope).
func (s *Shard) useSeriesWM(key int32) {
	if s.perSeries {
		ser, _ := s.pairOf(key)
		s.cur = s.sc.st[ser].wm
	}
}

// scanSeries recounts, at most once per scanEvery, the series with data:
// active (a reading within IdleTimeout) or idle, the largest lag
// now − WM_k over the active ones, and their lowest watermark. It reads
// every series slot of the shard (32 bytes each): about 3 MB per second
// at 100,000 series, off the per-reading path.
func (s *Shard) scanSeries(nowMs int64) {
	sc := &s.sc
	if nowMs < sc.nextScan {
		return
	}
	sc.nextScan = nowMs + scanEvery
	var active, idle, lag int64
	minWM := int64(math.MaxInt64)
	for i := range s.ready {
		st := &sc.st[i]
		if st.seen == NoWatermark {
			continue
		}
		if nowMs-st.seen >= sc.idle {
			idle++
			continue
		}
		active++
		minWM = min(minWM, st.wm)
		if st.wm != NoWatermark {
			lag = max(lag, nowMs-st.wm)
		}
	}
	if minWM == math.MaxInt64 {
		minWM = NoWatermark
	}
	sc.active, sc.idleN, sc.maxLagMs, sc.minWM = active, idle, lag, minWM
}

// NextWallCheck returns the wall clock (ms) at which Advance next has
// something to do for an idle series in SeriesScope — a series may have
// gone idle, or an idle series' window may be due — and false when no
// series has open windows (or in PipelineScope). Like Process, it belongs
// to the shard's goroutine.
func (s *Shard) NextWallCheck() (int64, bool) {
	if !s.perSeries {
		return 0, false
	}
	at, _, ok := s.sc.wall.peek()
	return at, ok
}

// SeriesWatermark returns series ser's watermark in SeriesScope, or the
// shard's pipeline watermark in PipelineScope. Like Process, it belongs to
// the shard's goroutine.
func (s *Shard) SeriesWatermark(ser uint32) int64 {
	if s.perSeries && ser < s.ready {
		return s.sc.st[ser].wm
	}
	return s.cur
}

// stateBytes is the memory NewShard preallocated for window, timer,
// sketch and per-series time state (the sketches' bucket arrays counted
// only when touched), for the benchmarks' bytes per series.
func (s *Shard) stateBytes() int {
	n := cap(s.slots)*int(unsafe.Sizeof(slot{})) + cap(s.keys)*int(unsafe.Sizeof(keyState{})) + cap(s.keyIdx)*4
	n += cap(s.timers.at)*8 + cap(s.timers.owner)*4 + cap(s.timers.pos)*4
	n += cap(s.sc.st)*int(unsafe.Sizeof(seriesTime{})) + cap(s.sc.wall.at)*8 + cap(s.sc.wall.owner)*4 + cap(s.sc.wall.pos)*4
	n += cap(s.purged)*int(unsafe.Sizeof(purgedSpan{})) + cap(s.rets)*int(unsafe.Sizeof(retraction{}))
	n += cap(s.sparse)*sparseBytes + cap(s.sketches)*int(unsafe.Sizeof(Sketch{})) + cap(s.skFree)*4
	n += s.chain.stateBytes()
	return n
}
