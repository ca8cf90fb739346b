package operators

import (
	"cmp"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/edgeplane/edgeplane/record"
)

// The reference: a direct, per-event simulation of WINDOWS.md with maps and
// slices of events, recomputing every aggregate from scratch. It shares no
// code with the operators except the record types.

type refEvent struct {
	t   int64
	seq uint64
	v   float64
}

type refWin struct {
	start, end int64
	events     []refEvent
	late       uint32
	dirty      bool
	rets       []record.Aggregate // retractions to emit with the next firing
}

// refSpan is the span of a key's latest purged sessions (session_ids.go,
// with the "other used id" test done exactly on the set of used ids).
type refSpan struct{ start, end int64 }

type refKey struct {
	series uint32
	field  uint16
}

type reference struct {
	c      Config
	srcMax []int64
	wm     int64
	// series scope: per-series maximum and watermark
	perSeries     bool
	serMax, serWM map[uint32]int64
	// ids: every id (window start) ever emitted per key, with its next
	// revision; spans: sessions' purged-span memory.
	revs    map[refKey]map[int64]uint32
	spans   map[refKey]*refSpan
	aligned map[refKey]map[int64]*refWin // key → window start → window
	session map[refKey][]*refWin         // sorted by start
	out     []record.Aggregate
	late    int
}

func newReference(c Config) *reference {
	r := &reference{c: c.withDefaults(), wm: math.MinInt64, aligned: map[refKey]map[int64]*refWin{}, session: map[refKey][]*refWin{},
		perSeries: c.Watermark == SeriesScope && c.TimeMode == EventTime, serMax: map[uint32]int64{}, serWM: map[uint32]int64{},
		revs: map[refKey]map[int64]uint32{}, spans: map[refKey]*refSpan{}}
	r.srcMax = make([]int64, r.c.Sources)
	for i := range r.srcMax {
		r.srcMax[i] = math.MinInt64
	}
	return r
}

// nextRev returns the next revision of id (k, start) and counts it used.
func (r *reference) nextRev(k refKey, start int64) uint32 {
	m := r.revs[k]
	if m == nil {
		m = map[int64]uint32{}
		r.revs[k] = m
	}
	v := m[start]
	m[start] = v + 1
	return v
}

func (r *reference) emitted(k refKey, start int64) bool { return r.revs[k][start] > 0 }

func (r *reference) emit(k refKey, w *refWin, final bool) {
	r.out = append(r.out, w.rets...)
	w.rets = nil
	a := record.Aggregate{Kind: r.c.Kind, Series: k.series, Field: k.field, Start: w.start, End: w.end, Revision: r.nextRev(k, w.start), Late: w.late}
	ev := slices.Clone(w.events)
	slices.SortFunc(ev, func(x, y refEvent) int {
		return cmp.Or(cmp.Compare(x.t, y.t), cmp.Compare(x.seq, y.seq))
	})
	a.Count = uint64(len(ev))
	a.Min, a.Max = math.Inf(1), math.Inf(-1)
	for _, e := range ev {
		a.Sum += e.v
		a.Min = math.Min(a.Min, e.v)
		a.Max = math.Max(a.Max, e.v)
	}
	a.FirstTime, a.First = ev[0].t, ev[0].v
	a.LastTime, a.Last = ev[len(ev)-1].t, ev[len(ev)-1].v
	mean := a.Sum / float64(a.Count)
	for _, e := range ev {
		a.M2 += (e.v - mean) * (e.v - mean)
	}
	a.WMean = mean
	// What the set does not select is left zero (acc.fill).
	if r.c.Aggregates&(First|Rate) == 0 {
		a.FirstTime, a.First = 0, 0
	}
	if r.c.Aggregates&(Last|Rate) == 0 {
		a.LastTime, a.Last = 0, 0
	}
	if !r.c.Aggregates.needWelford() {
		a.WMean, a.M2 = 0, 0
	}
	if len(r.c.Quantiles) > 0 {
		sk := NewSketch(r.c.SketchAlpha)
		for _, e := range ev {
			sk.Add(e.v)
		}
		a.NQ = uint8(len(r.c.Quantiles))
		for i, q := range r.c.Quantiles {
			a.Q[i], a.QV[i] = q, sk.Quantile(q)
		}
	}
	if final {
		a.Flags |= record.AggFinal
	}
	w.dirty = false
	r.out = append(r.out, a)
}

func (r *reference) floorMod(a, m int64) int64 { return ((a % m) + m) % m }

func (r *reference) process(s record.Sample) {
	k := refKey{s.Series, s.Field}
	e := refEvent{s.Time, s.Seq, s.Value}
	wmBefore := r.wmOf(s.Series)
	L := r.c.AllowedLateness
	if r.c.Kind == record.Session {
		r.addSession(k, e, wmBefore)
	} else {
		// Every window containing t, before the epoch too (WINDOWS.md
		// rule 3, as in Flink).
		S, A := r.c.Size, r.c.Advance
		last := e.t - r.floorMod(e.t-r.c.Offset, A)
		accepted := false
		var lateWins []*refWin
		for ws := last; ws > e.t-S; ws -= A {
			if ws+S-1+L <= wmBefore {
				continue
			}
			accepted = true
			m := r.aligned[k]
			if m == nil {
				m = map[int64]*refWin{}
				r.aligned[k] = m
			}
			w := m[ws]
			if w == nil {
				w = &refWin{start: ws, end: ws + S}
				m[ws] = w
			}
			w.events = append(w.events, e)
			w.dirty = true
			if ws+S-1 <= wmBefore {
				w.late++
				lateWins = append(lateWins, w)
			}
		}
		if !accepted {
			r.late++
		} else if r.c.Mode == Update {
			slices.SortFunc(lateWins, func(x, y *refWin) int { return cmp.Compare(x.start, y.start) })
			for _, w := range lateWins {
				r.emit(k, w, false)
			}
		}
	}
	if r.perSeries {
		if m, ok := r.serMax[s.Series]; !ok || s.Time > m {
			r.serMax[s.Series] = s.Time
		}
		if wm := r.serMax[s.Series] - r.c.OutOfOrder - 1; wm > r.wmOf(s.Series) {
			r.serWM[s.Series] = wm
			r.fire()
		}
		return
	}
	if int(s.Source) < len(r.srcMax) && s.Time > r.srcMax[s.Source] {
		r.srcMax[s.Source] = s.Time
	}
	wm := int64(math.MaxInt64)
	for _, m := range r.srcMax {
		if m == math.MinInt64 {
			wm = math.MinInt64
			break
		}
		wm = min(wm, m-r.c.OutOfOrder-1)
	}
	if wm > r.wm {
		r.wm = wm
		r.fire()
	}
}

func (r *reference) addSession(k refKey, e refEvent, wmBefore int64) {
	L, gap := r.c.AllowedLateness, r.c.Gap
	if sp := r.spans[k]; sp != nil {
		// Another used id in the span that no live session covers (a
		// reading there would join that session instead).
		other := false
		for id := range r.revs[k] {
			if id <= sp.start || id >= sp.end {
				continue
			}
			live := false
			for _, w := range r.session[k] {
				live = live || (id >= w.start && id < w.end)
			}
			other = other || !live
		}
		if e.t < sp.start || (other && e.t > sp.start && e.t < sp.end) {
			r.late++
			return
		}
	}
	nw := &refWin{start: e.t, end: e.t + gap, events: []refEvent{e}}
	var keepWins, merged []*refWin
	for _, w := range r.session[k] {
		if w.start <= nw.end && w.end >= nw.start {
			nw.start, nw.end = min(nw.start, w.start), max(nw.end, w.end)
			nw.events = append(nw.events, w.events...)
			nw.late += w.late
			nw.rets = append(nw.rets, w.rets...)
			merged = append(merged, w)
			continue
		}
		keepWins = append(keepWins, w)
	}
	if len(nw.events) == 1 && nw.end-1+L <= wmBefore {
		r.late++
		return
	}
	// Emitted ids the merge ends are retracted with the next firing.
	for _, w := range merged {
		if w.start != nw.start && r.emitted(k, w.start) {
			nw.rets = append(nw.rets, record.Aggregate{Kind: r.c.Kind, Series: k.series, Field: k.field,
				Flags: record.AggRetracted, Start: w.start, End: w.end, Revision: r.nextRev(k, w.start)})
		}
	}
	nw.dirty = true
	keepWins = append(keepWins, nw)
	slices.SortFunc(keepWins, func(x, y *refWin) int { return cmp.Compare(x.start, y.start) })
	r.session[k] = keepWins
	if nw.end-1 <= wmBefore {
		nw.late++
		if r.c.Mode == Update {
			r.emit(k, nw, false)
		}
	}
}

// rememberPurge updates k's purged span with session w.
func (r *reference) rememberPurge(k refKey, w *refWin) {
	sp := r.spans[k]
	switch {
	case sp == nil || w.start > sp.end:
		r.spans[k] = &refSpan{w.start, w.end}
	case w.start >= sp.start:
		sp.end = max(sp.end, w.end)
	}
}

// wmOf is the watermark series ser's windows follow.
func (r *reference) wmOf(ser uint32) int64 {
	if !r.perSeries {
		return r.wm
	}
	if wm, ok := r.serWM[ser]; ok {
		return wm
	}
	return math.MinInt64
}

func (r *reference) fire() {
	L := r.c.AllowedLateness
	due := func(k refKey, w *refWin) (emit, final, purge bool) {
		wm := r.wmOf(k.series)
		purge = w.end-1+L <= wm
		if r.c.Mode == Update {
			return w.dirty && w.end-1 <= wm, purge, purge
		}
		return purge, true, purge
	}
	for k, m := range r.aligned {
		for ws, w := range m {
			emit, final, purge := due(k, w)
			if emit {
				r.emit(k, w, final)
			}
			if purge {
				delete(m, ws)
			}
		}
	}
	for k, ws := range r.session {
		var keepWins []*refWin
		for _, w := range ws {
			emit, final, purge := due(k, w)
			if emit {
				r.emit(k, w, final)
			}
			if !purge {
				keepWins = append(keepWins, w)
			} else {
				r.rememberPurge(k, w)
			}
		}
		r.session[k] = keepWins
	}
}

func (r *reference) flush() {
	for k, m := range r.aligned {
		for _, w := range m {
			r.emit(k, w, true)
		}
	}
	for k, ws := range r.session {
		for _, w := range ws {
			r.emit(k, w, true)
			r.rememberPurge(k, w)
		}
	}
	r.aligned = map[refKey]map[int64]*refWin{}
	r.session = map[refKey][]*refWin{}
}

func sortAggs(a []record.Aggregate) {
	slices.SortFunc(a, func(x, y record.Aggregate) int {
		return cmp.Or(cmp.Compare(x.Series, y.Series), cmp.Compare(x.Field, y.Field),
			cmp.Compare(x.Start, y.Start), cmp.Compare(x.End, y.End), cmp.Compare(x.Revision, y.Revision),
			cmp.Compare(x.Count, y.Count))
	})
}

func closeTo(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func aggEqual(g, w *record.Aggregate) bool {
	return g.Kind == w.Kind && g.Series == w.Series && g.Field == w.Field && g.Start == w.Start && g.End == w.End &&
		g.Revision == w.Revision && g.Late == w.Late && g.Flags == w.Flags && g.Count == w.Count &&
		g.Sum == w.Sum && g.Min == w.Min && g.Max == w.Max &&
		g.FirstTime == w.FirstTime && g.First == w.First && g.LastTime == w.LastTime && g.Last == w.Last &&
		closeTo(g.WMean, w.WMean) && closeTo(g.M2, w.M2) && g.NQ == w.NQ && g.Q == w.Q && g.QV == w.QV
}

// propConfig is a random configuration for the property tests: bounds
// and lateness drawn from rng, window kind and sizes left to the caller.
func propConfig(rng *rand.Rand) Config {
	return Config{
		OutOfOrder:      int64(rng.IntN(6)),
		AllowedLateness: int64(rng.IntN(3)) * int64(rng.IntN(8)),
		Mode:            EmitMode(rng.IntN(2)),
		Aggregates:      Count | Sum | Min | Max | Mean | First | Last | Variance,
		MaxSeries:       3,
		Fields:          2,
		Sources:         1 + rng.IntN(2),
		MaxOpenWindows:  1000,
		StateBudget:     4000,
	}
}

var (
	propIters = flag.Int("prop.iters", 300, "random streams per TestPropertyAgainstReference run")
	propSeed  = flag.Int("prop.seed", -1, "run only this seed of TestPropertyAgainstReference")
)

// TestPropertyAgainstReference runs random streams with out-of-order and
// late events through every window kind and mode and compares every
// emission and the late count with the reference.
func TestPropertyAgainstReference(t *testing.T) {
	iters := *propIters
	if testing.Short() {
		iters = 60
	}
	f := func(seed uint64) {
		t.Helper()
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		c := propConfig(rng)
		c.Kind = record.WindowKind(rng.IntN(3))
		if rng.IntN(2) == 0 {
			// Only what every set needs: the shard's inlined per-sample
			// path (acc.addBasic).
			c.Aggregates = DefaultAggregates
		}
		if rng.IntN(3) == 0 {
			// Sketches merged from panes and sessions equal the sketch of
			// the window's events, so the quantiles match exactly.
			c.Quantiles = []float64{0.1, 0.5, 0.99}
		}
		switch c.Kind {
		case record.Tumbling:
			c.Size = int64(2 + rng.IntN(10))
			c.Offset = int64(rng.IntN(int(c.Size)))
		case record.Hopping:
			c.Advance = int64(1 + rng.IntN(6))
			c.Size = c.Advance * int64(1+rng.IntN(4))
			if rng.IntN(2) == 0 {
				c.Size += int64(rng.IntN(int(c.Advance)))
			}
			c.Offset = int64(rng.IntN(int(c.Advance)))
		case record.Session:
			c.Gap = int64(1 + rng.IntN(8))
		}
		// Both scopes; in series scope the series' clocks are offset from
		// each other (by up to 600 ms: "minutes" at these window sizes)
		// and one series may replay a backlog.
		var offset [3]int64
		replay, replayAt := -1, -1
		if rng.IntN(2) == 0 {
			c.Watermark = SeriesScope
			c.IdleTimeout = 1 << 40 // the wall clock stays at 0
		}
		if rng.IntN(2) == 0 {
			for i := range offset {
				offset[i] = int64(rng.IntN(600))
			}
		}
		ref := newReference(c)
		rec := &recorder{}
		sh, err := NewShard(&c, NewWatermarks(&c), rec)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		n := 50 + rng.IntN(300)
		if rng.IntN(2) == 0 {
			replay, replayAt = rng.IntN(3), n/2
		}
		// Streams start on either side of the epoch and cross it: times
		// before 1970 follow the same rules (WINDOWS.md rule 3).
		clock := int64(rng.IntN(90)) - 60
		batchLen := 1 + rng.IntN(3)*rng.IntN(8) // per-sample semantics hold in any batch
		var batch []record.Sample
		for i := range n {
			clock += int64(rng.IntN(3))
			tm := clock
			switch rng.IntN(10) {
			case 0, 1:
				tm -= int64(rng.IntN(8)) // out of order
			case 2:
				tm -= int64(rng.IntN(40)) // likely late
			}
			ser := rng.IntN(3)
			tm += offset[ser]
			if ser == replay && i >= replayAt && i < replayAt+n/4 {
				// The backlog: this series' readings from 60..20 ms back,
				// in order.
				tm = clock + offset[ser] - 60 + int64(i-replayAt)*40/int64(max(1, n/4))
			}
			s := record.Sample{
				Series: uint32(ser), Field: uint16(rng.IntN(2)), Source: uint8(rng.IntN(c.Sources)),
				Time: tm, Value: float64(rng.IntN(200) - 50), Seq: uint64(i),
			}
			ref.process(s)
			batch = append(batch, s)
			if len(batch) >= batchLen {
				sh.Process(batch, 0)
				batch = batch[:0]
			}
		}
		sh.Process(batch, 0)
		if rng.IntN(2) == 0 {
			ref.flush()
			sh.Flush()
		}
		if !sameAsReference(t, fmt.Sprintf("seed %d, config %+v", seed, c), sh, rec.aggs, ref) {
			return
		}
	}
	if *propSeed >= 0 {
		f(uint64(*propSeed))
		return
	}
	for i := range iters {
		f(uint64(i))
	}
}

func brief(a []record.Aggregate) []string {
	var s []string
	for i := range a {
		s = append(s, fmt.Sprintf("%d/%d%s", a[i].Series, a[i].Field, short(&a[i], 0)))
	}
	return s
}

// sameAsReference compares a shard's emissions and counts with the
// reference's after the same stream, reporting differences under label;
// it reports false when the emissions differ (counts that differ are
// reported but do not stop the caller).
func sameAsReference(t *testing.T, label string, sh *Shard, got []record.Aggregate, ref *reference) bool {
	t.Helper()
	want := ref.out
	sortAggs(got)
	sortAggs(want)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s: %s", label, fmt.Sprintf(format, args...))
	}
	st := sh.Stats()
	if st.Late != uint64(ref.late) {
		fail("late %d, reference %d", st.Late, ref.late)
	}
	if st.RefusedWindows != 0 {
		fail("refused %d", st.RefusedWindows)
	}
	if len(got) != len(want) {
		fail("%d emissions, reference %d\n got %v\nwant %v", len(got), len(want), brief(got), brief(want))
		return false
	}
	for i := range got {
		if !aggEqual(&got[i], &want[i]) {
			fail("emission %d:\n got %+v\nwant %+v", i, got[i], want[i])
			return false
		}
	}
	return true
}
