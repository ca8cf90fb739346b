package operators

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgeplane/edgeplane/record"
)

// alignShapes are tumbling and hopping geometries for the alignment tests:
// tiny and huge steps, advances that divide the size (pane = advance) and
// that do not (pane < advance, size % advance > 0).
func alignShapes() []Config {
	const big = int64(maxSpan)
	return []Config{
		{Kind: record.Tumbling, Size: 1},
		{Kind: record.Tumbling, Size: 2},
		{Kind: record.Tumbling, Size: 7},
		{Kind: record.Tumbling, Size: 1000},
		{Kind: record.Tumbling, Size: 86_400_000},
		{Kind: record.Tumbling, Size: big},
		{Kind: record.Hopping, Size: 10, Advance: 5},
		{Kind: record.Hopping, Size: 10, Advance: 4}, // pane 2, size % advance 2
		{Kind: record.Hopping, Size: 7, Advance: 3},  // pane 1
		{Kind: record.Hopping, Size: 1000, Advance: 250},
		{Kind: record.Hopping, Size: 1000, Advance: 300}, // pane 100
		{Kind: record.Hopping, Size: 3, Advance: 3},
		{Kind: record.Hopping, Size: 4096, Advance: 1},
		{Kind: record.Hopping, Size: big, Advance: 3 << 50}, // pane 1<<50
		{Kind: record.Hopping, Size: big, Advance: big},
	}
}

// alignOffsets are offsets to try for a slide: 0, the extremes, and random
// ones of both signs.
func alignOffsets(rng *rand.Rand, slide int64) []int64 {
	offs := []int64{0, slide - 1, -(slide - 1)}
	for range 3 {
		offs = append(offs, rng.Int64N(2*slide-1)-(slide-1))
	}
	return offs
}

// TestAlignCacheMatchesDirect checks the cached alignment used on the
// per-sample path (the window and pane caches, lastWinAt, firstWinFrom)
// against the direct formulas (alignDown, lastWin, firstWin) for every
// tumbling/hopping shape, offsets of both signs, and sequences of times
// that walk and jump back and forth across window and pane edges, around
// the epoch, far before and after it, at ±maxTime and at the ends of int64
// (processing time takes the wall clock unchecked).
func TestAlignCacheMatchesDirect(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	checked, hits := 0, 0
	for _, shape := range alignShapes() {
		for _, off := range alignOffsets(rng, shape.slide()) {
			c := shape
			c.Offset, c.MaxSeries, c.StateBudget = off, 1, 16
			s, err := NewShard(&c, NewWatermarks(&c), &countEmitter{})
			if err != nil {
				t.Fatalf("%+v: %v", c, err)
			}
			check := func(tm int64) {
				t.Helper()
				checked++
				if tm >= s.winC.lo && tm <= s.winC.hi {
					hits++
				}
				// As addAligned does it.
				wl := s.align(&s.winC, tm)
				if want := s.lastWin(tm); wl != want {
					t.Fatalf("size %d adv %d off %d: lastWin(%d) cached %d, direct %d", s.size, s.adv, s.off, tm, wl, want)
				}
				ps := wl
				if s.pane != s.adv {
					ps = s.align(&s.paneC, tm)
				}
				if want := s.alignDown(tm, s.pane); ps != want {
					t.Fatalf("size %d adv %d off %d: pane of %d cached %d, direct %d", s.size, s.adv, s.off, tm, ps, want)
				}
				if got, want := s.firstWinFrom(tm, wl), s.firstWin(tm); got != want {
					t.Fatalf("size %d adv %d off %d: firstWin(%d) from lastWin %d, direct %d", s.size, s.adv, s.off, tm, got, want)
				}
				// As findPane and the firing path do it.
				if got, want := s.lastWinAt(tm), s.lastWin(tm); got != want {
					t.Fatalf("size %d adv %d off %d: lastWinAt(%d) %d, direct %d", s.size, s.adv, s.off, tm, got, want)
				}
				for _, ac := range []struct {
					c    alignCache
					step int64
				}{{s.winC, s.adv}, {s.paneC, s.pane}} {
					if ac.c.step != ac.step || ac.c.lo <= ac.c.hi && (ac.c.hi-ac.c.lo != ac.step-1 || ac.c.lo < -maxTime || ac.c.hi > maxTime) {
						t.Fatalf("size %d adv %d off %d: cache %+v, want step %d", s.size, s.adv, s.off, ac.c, ac.step)
					}
				}
			}
			centers := []int64{0, -1, 1, s.alignDown(0, s.adv), 1_700_000_000_000, -1_700_000_000_000,
				maxTime, -maxTime, math.MaxInt64, math.MinInt64, rng.Int64(), -rng.Int64()}
			for _, ctr := range centers {
				// Edges of windows and panes near ctr, and times on both
				// sides of them, in random order: back and forth.
				var ts []int64
				for _, step := range []int64{s.adv, s.pane} {
					e := s.alignDown(ctr, step)
					for j := int64(-2); j <= 2; j++ {
						edge := e + j*step // may wrap at the ends of int64: fine
						ts = append(ts, edge-1, edge, edge+1, edge+step-1, edge-step)
					}
				}
				for range 3 {
					rng.Shuffle(len(ts), func(i, j int) { ts[i], ts[j] = ts[j], ts[i] })
					for _, tm := range ts {
						check(tm)
					}
				}
				// A random walk across edges, steps up to two advances
				// either way.
				tm := ctr
				for range 200 {
					d := s.adv
					if d > 1<<40 {
						d = 1 << 40 // keep huge steps from wrapping every time
					}
					tm += rng.Int64N(4*d+1) - 2*d
					check(tm)
					if rng.IntN(8) == 0 {
						check(ctr) // jump back
					}
				}
				// A sensor's clock: mostly small steps forward within a
				// pane, now and then one back (out of order).
				tm = ctr
				small := max(1, min(s.pane/4, 1<<40))
				for range 200 {
					tm += rng.Int64N(small + 1)
					if rng.IntN(10) == 0 {
						check(tm - rng.Int64N(2*small+1))
					}
					check(tm)
				}
			}
			for range 300 {
				check(int64(rng.Uint64())) // anywhere in int64
			}
		}
	}
	// The walks and edge sequences must exercise the hits, not only the
	// misses that compute directly.
	if hits < checked/5 {
		t.Fatalf("%d cache hits in %d checks", hits, checked)
	}
	t.Logf("%d checks, %d window-cache hits", checked, hits)
}

// checkPaneEnds checks every live pane's end (lastWin(start)+size, read by
// firing and purging).
func checkPaneEnds(t *testing.T, s *Shard) {
	t.Helper()
	for key := range s.readyKeys() {
		for i := s.keys[key].head; i >= 0; i = s.slots[i].next {
			sl := &s.slots[i]
			if want := s.lastWin(sl.start) + s.size; sl.end != want {
				t.Fatalf("key %d pane %d: end %d, want lastWin(start)+size %d", key, sl.start, sl.end, want)
			}
		}
	}
}

// TestPropertyNegativeTimesAndOffsets runs tumbling and hopping windows
// against the reference (property_test.go) with what the main property
// test leaves out: negative offsets, times far from the epoch and far
// before it; times jump back and forth across window edges. Every live
// pane's cached end is checked after each batch.
func TestPropertyNegativeTimesAndOffsets(t *testing.T) {
	iters := 200
	if testing.Short() {
		iters = 40
	}
	for seed := range uint64(iters) {
		rng := rand.New(rand.NewPCG(seed, 0x5eed))
		c := propConfig(rng)
		c.Kind = record.Tumbling
		if rng.IntN(2) == 0 {
			c.Kind = record.Hopping
			c.Advance = int64(1 + rng.IntN(6))
			c.Size = c.Advance*int64(1+rng.IntN(4)) + int64(rng.IntN(int(c.Advance)))
		} else {
			c.Size = int64(1 + rng.IntN(12))
		}
		sl := c.slide()
		c.Offset = rng.Int64N(2*sl-1) - (sl - 1)
		base := []int64{-60, -20, 0, -1_700_000_000_000, 1_700_000_000_000}[rng.IntN(5)]
		ref := newReference(c)
		rec := &recorder{}
		sh, err := NewShard(&c, NewWatermarks(&c), rec)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		clock := base + int64(rng.IntN(30))
		batchLen := 1 + rng.IntN(3)*rng.IntN(8)
		var batch []record.Sample
		for i := range 50 + rng.IntN(300) {
			clock += int64(rng.IntN(3))
			tm := clock
			switch rng.IntN(10) {
			case 0, 1:
				tm -= int64(rng.IntN(8)) // out of order
			case 2:
				tm -= int64(rng.IntN(40)) // likely late
			case 3:
				tm -= c.Size // back across an edge
			}
			s := record.Sample{
				Series: uint32(rng.IntN(3)), Field: uint16(rng.IntN(2)), Source: uint8(rng.IntN(c.Sources)),
				Time: tm, Value: float64(rng.IntN(200) - 50), Seq: uint64(i),
			}
			ref.process(s)
			batch = append(batch, s)
			if len(batch) >= batchLen {
				sh.Process(batch, 0)
				batch = batch[:0]
				checkPaneEnds(t, sh)
			}
		}
		sh.Process(batch, 0)
		checkPaneEnds(t, sh)
		if rng.IntN(2) == 0 {
			ref.flush()
			sh.Flush()
		}
		sameAsReference(t, fmt.Sprintf("seed %d, base %d, config %+v", seed, base, c), sh, rec.aggs, ref)
	}
}
