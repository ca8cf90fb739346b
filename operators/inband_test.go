package operators

import (
	"strings"
	"testing"

	"github.com/edgeplane/edgeplane/record"
)

// feeder plays the pipeline's role under InBandWatermarks: it queues a
// reading, observes its time, and queues a marker with the new watermark
// into every shard's queue.
type feeder struct {
	wm     *Watermarks
	queues [][]record.Sample
	last   int64
}

func (f *feeder) push(shard int, s record.Sample, now int64) {
	f.queues[shard] = append(f.queues[shard], s)
	f.wm.Observe(int(s.Source), s.Time, now)
	if wm := f.wm.Current(now); wm > f.last {
		f.last = wm
		for i := range f.queues {
			f.queues[i] = append(f.queues[i], record.Sample{Flags: record.FlagWatermark, Time: wm})
		}
	}
}

func (f *feeder) drain(shard int, sh *Shard, now int64) {
	sh.Process(f.queues[shard], now)
	f.queues[shard] = f.queues[shard][:0]
}

// TestInBandTableA reproduces WINDOWS.md table A with the watermark carried
// in band, one shard, draining after every reading.
func TestInBandTableA(t *testing.T) {
	const base = 1_700_000_000_000
	c := Config{Kind: record.Tumbling, Size: 10, OutOfOrder: 2, AllowedLateness: 5, MaxSeries: 4, InBandWatermarks: true}
	wm := NewWatermarks(&c)
	rec := &recorder{}
	sh, err := NewShard(&c, wm, rec)
	if err != nil {
		t.Fatal(err)
	}
	f := &feeder{wm: wm, queues: make([][]record.Sample, 1), last: NoWatermark}
	rows := []struct{ t, v int64 }{{1, 10}, {4, 20}, {12, 5}, {8, 7}, {18, 1}, {3, 100}, {25, 2}, {19, 4}}
	for i, r := range rows {
		f.push(0, record.Sample{Series: 1, Time: base + r.t, Value: float64(r.v), Seq: uint64(i)}, 0)
		f.drain(0, sh, 0)
	}
	aggs, late := rec.take()
	var got []string
	for i := range aggs {
		got = append(got, short(&aggs[i], base))
	}
	want := []string{
		"[0,10) count 2 sum 30 rev 0 late 0",
		"[0,10) count 3 sum 37 rev 1 late 1",
		"[10,20) count 2 sum 6 rev 0 late 0",
		"[10,20) count 3 sum 10 rev 1 late 1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("emitted:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(late) != 1 || late[0].Time != base+3 {
		t.Fatalf("late output %v, want the reading at t=3", late)
	}
}

// TestInBandShardRunningAhead is the case the in-band mode exists for: a
// reading queued for shard 1 must not become late because shard 0
// processed a later reading first.
func TestInBandShardRunningAhead(t *testing.T) {
	const base = 1_700_000_000_000
	for _, inBand := range []bool{false, true} {
		c := Config{Kind: record.Tumbling, Size: 10_000, OutOfOrder: 2_000, MaxSeries: 4, Shards: 2, InBandWatermarks: inBand}
		wm := NewWatermarks(&c)
		rec0, rec1 := &recorder{}, &recorder{}
		sh0, _ := NewShard(&c, wm, rec0)
		sh1, _ := NewShard(&c, wm, rec1)
		f := &feeder{wm: wm, queues: make([][]record.Sample, 2), last: NoWatermark}
		// Arrival order: series 1 at +18 s (shard 1), then series 0 at
		// +40 s (shard 0). Sequentially, +18 s is on time.
		s1 := record.Sample{Series: 1, Time: base + 18_000, Value: 1, Seq: 1}
		s0 := record.Sample{Series: 0, Time: base + 40_000, Value: 2, Seq: 2}
		if inBand {
			f.push(1, s1, 0)
			f.push(0, s0, 0)
			f.drain(0, sh0, 0) // shard 0 runs ahead
			f.drain(1, sh1, 0)
		} else {
			sh0.Process([]record.Sample{s0}, 0)
			sh1.Process([]record.Sample{s1}, 0)
		}
		aggs, late := rec1.take()
		if inBand && len(late) != 0 {
			t.Fatalf("in band: reading declared late: %v", late)
		}
		if !inBand && len(late) != 1 {
			t.Fatalf("shared watermark: expected the race to show (1 late), got %d", len(late))
		}
		if inBand {
			if len(aggs) != 1 || aggs[0].Count != 1 || aggs[0].Start != base+10_000 {
				t.Fatalf("shard 1 emitted %+v, want [10s,20s) count 1", aggs)
			}
		}
	}
}
