package operators

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgeplane/edgeplane/record"
)

// All wall clocks here are injected: nowMs arguments, or the fake clock of
// testing/synctest. Nothing sleeps.

func TestWatermarksMinOverSourcesAndIdle(t *testing.T) {
	c := Config{Sources: 2, OutOfOrder: 2, IdleTimeout: 1000}
	w := NewWatermarks(&c)
	f := func(now, want int64) {
		t.Helper()
		if got := w.Current(now); got != want {
			t.Fatalf("Current(%d) = %d, want %d", now, got, want)
		}
	}
	f(0, NoWatermark) // no data at all
	w.Observe(0, 100, 0)
	f(500, NoWatermark) // source 1 has no data and is not idle yet: it holds the pipeline
	f(1000, 97)         // source 1 idle (1000 ms since the first wall clock): excluded
	w.Observe(1, 50, 1000)
	f(1000, 97) // source 1 is back but behind: the watermark never regresses
	w.Observe(0, 200, 1100)
	f(1100, 97) // min(197, 47) = 47 < 97: held
	w.Observe(1, 150, 1200)
	f(1200, 147) // min(197, 147)
	w.Observe(0, 300, 1300)
	f(2199, 147) // source 1 last seen at 1200: still active
	f(2200, 297) // source 1 idle: only source 0 counts
	if !w.Idle(1, 2200) || w.Idle(0, 2200) {
		t.Fatalf("idle flags wrong")
	}
}

func TestWatermarksNeverIdleWithoutTimeout(t *testing.T) {
	c := Config{Sources: 2}
	w := NewWatermarks(&c)
	w.Observe(0, 100, 0)
	if got := w.Current(1 << 40); got != NoWatermark {
		t.Fatalf("Current = %d, want −∞ while source 1 never sent data", got)
	}
	w.Observe(1, 10, 0)
	if got := w.Current(1 << 40); got != 9 {
		t.Fatalf("Current = %d, want 9", got)
	}
}

// The wall-clock fallback: when every source is idle, each source's event
// clock runs on from the moment it went idle.
func TestWatermarksWallClockFallback(t *testing.T) {
	c := Config{Sources: 1, OutOfOrder: 2, IdleTimeout: 1000}
	w := NewWatermarks(&c)
	w.Observe(0, 5000, 10_000)
	f := func(now, want int64) {
		t.Helper()
		if got := w.Current(now); got != want {
			t.Fatalf("Current(%d) = %d, want %d", now, got, want)
		}
	}
	f(10_000, 4997)
	f(10_999, 4997)
	f(11_000, 4997) // idle now; extrapolation starts at 0
	f(11_500, 5497)
	f(12_000, 5997)
	// Data again, behind the extrapolated clock: the watermark holds.
	w.Observe(0, 5100, 12_100)
	f(12_100, 5997)
}

func TestWatermarksProcessingTime(t *testing.T) {
	c := Config{Kind: record.Tumbling, Size: 100, MaxSeries: 1, TimeMode: ProcessingTime, OutOfOrder: 50}
	rec := &recorder{}
	sh, err := NewShard(&c, NewWatermarks(&c), rec)
	if err != nil {
		t.Fatal(err)
	}
	// Event times are ignored: the wall clock is the time.
	sh.Process([]record.Sample{{Time: 1, Value: 1}, {Time: 999_999, Value: 2}}, 1010)
	sh.Process([]record.Sample{{Time: 5, Value: 4}}, 1090)
	if len(rec.aggs) != 0 {
		t.Fatalf("fired early: %v", rec.aggs)
	}
	sh.Advance(1100) // WM = 1099 = end−1 of [1000,1100)
	if len(rec.aggs) != 1 || rec.aggs[0].Start != 1000 || rec.aggs[0].Count != 3 || rec.aggs[0].Sum != 7 {
		t.Fatalf("got %+v", rec.aggs)
	}
}

// A sensor that goes silent still gets its last window closed, by a shard
// that only sees Advance ticks (injected clock).
func TestShardIdleFallbackClosesLastWindow(t *testing.T) {
	c := Config{Kind: record.Tumbling, Size: 1000, OutOfOrder: 2, MaxSeries: 1, IdleTimeout: 1000}
	rec := &recorder{}
	sh, err := NewShard(&c, NewWatermarks(&c), rec)
	if err != nil {
		t.Fatal(err)
	}
	sh.Process([]record.Sample{{Time: 5000, Value: 1}, {Time: 5400, Value: 2}}, 10_000)
	// [5000,6000) closes when WM >= 5999: 5400 + (now − 10000 − 1000) − 3 >= 5999,
	// so at now >= 11_602. Tick every 200 ms.
	fired := int64(-1)
	for now := int64(10_200); now <= 20_000; now += 200 {
		sh.Advance(now)
		if len(rec.aggs) > 0 && fired < 0 {
			fired = now
		}
	}
	if fired != 11_800 {
		t.Fatalf("last window fired at %d, want at the first tick >= 11602 (11800)", fired)
	}
	if a := rec.aggs[0]; a.Count != 2 || a.Sum != 3 || a.Flags&record.AggFinal == 0 {
		t.Fatalf("got %+v", a)
	}
}

// The same under testing/synctest: a real ticker goroutine drives Advance
// from time.Now, and the fake clock makes the firing time exact.
func TestShardIdleFallbackSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := Config{Kind: record.Tumbling, Size: 1000, OutOfOrder: 0, MaxSeries: 1, IdleTimeout: 500}
		var mu sync.Mutex
		rec := &recorder{}
		sh, err := NewShard(&c, NewWatermarks(&c), lockedEmitter{&mu, rec})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		ms := func() int64 { return time.Now().UnixMilli() }
		// One reading with event time = wall clock, at a window start.
		t0 := start.UnixMilli() - start.UnixMilli()%1000
		sh.Process([]record.Sample{{Time: t0, Value: 42}}, ms())
		done := make(chan struct{})
		var firedAt time.Duration
		go func() {
			defer close(done)
			tk := time.NewTicker(200 * time.Millisecond)
			defer tk.Stop()
			for range 100 {
				<-tk.C
				sh.Advance(ms())
				mu.Lock()
				n := len(rec.aggs)
				mu.Unlock()
				if n > 0 {
					firedAt = time.Since(start)
					return
				}
			}
		}()
		<-done
		// WM = t0 + (now − seen − 500) − 1 >= t0 + 999 ⇔ now − seen >= 1500.
		if firedAt != 1600*time.Millisecond {
			t.Fatalf("fired after %v, want 1.6s (first 200 ms tick at or after 1.5s)", firedAt)
		}
		if a := rec.aggs[0]; a.Count != 1 || a.Sum != 42 || a.Start != t0 {
			t.Fatalf("got %+v", a)
		}
	})
}

type lockedEmitter struct {
	mu *sync.Mutex
	r  *recorder
}

func (l lockedEmitter) Emit(a *record.Aggregate) { l.mu.Lock(); l.r.Emit(a); l.mu.Unlock() }
func (l lockedEmitter) Late(s *record.Sample)    { l.mu.Lock(); l.r.Late(s); l.mu.Unlock() }

// Two shards share one Watermarks: a shard whose own series are quiet
// fires on the watermark the other shard moved, at its next Advance.
func TestShardsShareWatermark(t *testing.T) {
	c := Config{Kind: record.Tumbling, Size: 10, MaxSeries: 2, Shards: 2}
	wm := NewWatermarks(&c)
	r0, r1 := &recorder{}, &recorder{}
	s0, _ := NewShard(&c, wm, r0)
	s1, _ := NewShard(&c, wm, r1)
	s0.Process([]record.Sample{{Series: 0, Time: 1, Value: 1}}, 0)
	s1.Process([]record.Sample{{Series: 1, Time: 2, Value: 2}}, 0)
	s0.Process([]record.Sample{{Series: 0, Time: 15, Value: 1}}, 0)
	if len(r0.aggs) != 1 || len(r1.aggs) != 0 {
		t.Fatalf("r0 %v, r1 %v", r0.aggs, r1.aggs)
	}
	s1.Advance(0)
	if len(r1.aggs) != 1 || r1.aggs[0].Series != 1 || r1.aggs[0].Sum != 2 {
		t.Fatalf("r1 %v", r1.aggs)
	}
}

// In processing time, dedup still keys on the reading's own time.
func TestProcessingTimeDedupUsesEventTime(t *testing.T) {
	c := Config{Kind: record.Tumbling, Size: 100, MaxSeries: 1, TimeMode: ProcessingTime, Dedup: true}
	sh, rec := newTestShard(t, c)
	sh.Process([]record.Sample{{Time: 1, Value: 1}, {Time: 2, Value: 2}, {Time: 1, Value: 9}}, 1000)
	sh.Flush()
	if st := sh.Stats(); st.Deduped != 1 || len(rec.aggs) != 1 || rec.aggs[0].Count != 2 || rec.aggs[0].Start != 1000 {
		t.Fatalf("stats %+v aggs %v", st, rec.aggs)
	}
}

// Shards on their own goroutines share one Watermarks while another
// goroutine reads their Stats: run under -race.
func TestConcurrentShardsAndStats(t *testing.T) {
	c := Config{Kind: record.Tumbling, Size: 10, MaxSeries: 64, Sources: 2, Shards: 4, IdleTimeout: 50}
	wm := NewWatermarks(&c)
	var shards []*Shard
	for range 4 {
		sh, err := NewShard(&c, wm, &countEmitter{})
		if err != nil {
			t.Fatal(err)
		}
		shards = append(shards, sh)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i, sh := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := make([]record.Sample, 8)
			for n := range 2000 {
				for j := range b {
					b[j] = record.Sample{Series: uint32(i + 4*j), Source: uint8(j % 2), Time: int64(n), Value: 1}
				}
				sh.Process(b, int64(n))
				if n%50 == 0 {
					sh.Advance(int64(n))
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				for _, sh := range shards {
					_ = sh.Stats()
				}
				_ = wm.Load()
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-done
	var in, emitted uint64
	for _, sh := range shards {
		st := sh.Stats()
		in += st.SamplesIn
		emitted += st.Emitted
	}
	if in != 4*2000*8 || emitted == 0 {
		t.Fatalf("in %d emitted %d", in, emitted)
	}
}
