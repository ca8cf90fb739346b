package sink_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/sink"
)

// writeFrame writes one frame of perFrame aggregates, each frame a window of
// its own, and returns the ids of its aggregates.
func writeFrame(t *testing.T, ctx context.Context, w *sink.Writer, frame, perFrame, nSeries int, fields []string) ([]string, error) {
	aggs := testenv.CityAggregates(uint64(frame), perFrame, nSeries, len(fields))
	for i := range aggs {
		aggs[i].Start += int64(frame) * 3_600_000
		aggs[i].End += int64(frame) * 3_600_000
		if err := w.Add(ctx, &aggs[i], 1763690000000); err != nil {
			return nil, err
		}
	}
	return wantIDs("gw1", "air", aggs, fields), w.Flush(ctx)
}

const smallBuffer = 64 << 10

// TestFullDropOldest: with Kafka down and a 64 KiB buffer, drop_oldest
// keeps the newest frames and counts the others, frames and aggregates,
// exactly; once Kafka is back exactly the kept frames arrive.
func TestFullDropOldest(t *testing.T) {
	r := newRig(t, sink.BufferOptions{MaxBytes: smallBuffer, OnFull: sink.EvictOldest})
	r.down.set(true)
	r.startForwarder(sink.ForwarderOptions{DeliveryTimeout: 300 * time.Millisecond, NakMin: 50 * time.Millisecond, NakMax: 200 * time.Millisecond, AckWait: time.Second})
	const frames, perFrame, nSeries = 20, 40, 20
	keys, fields := seriesTable(t, nSeries), testenv.FieldNames(2)
	var ws sink.WriterStats
	w := sink.NewWriter(r.buf, sink.WriterOptions{Gateway: "gw1", Pipeline: "air", Topic: "agg.air",
		Columns: sink.ColSum | sink.ColMin | sink.ColMax | sink.ColMean, Logger: testLogger()}, keys, fields, &ws)
	var ids [][]string
	for f := 0; f < frames; f++ {
		fid, err := writeFrame(t, r.ctx, w, f, perFrame, nSeries, fields)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, fid)
	}
	st := r.state()
	t.Logf("buffer: %d frames (%d bytes) held, %d dropped (%d aggregates)", st.Messages, st.Bytes, st.DroppedFrames, st.DroppedAggregates)
	if st.Messages == 0 || st.Messages >= frames || st.Bytes > smallBuffer {
		t.Fatalf("buffer holds %d frames, %d bytes: want some but not all %d within %d bytes", st.Messages, st.Bytes, frames, smallBuffer)
	}
	if st.Messages+st.DroppedFrames != frames || st.Aggregates+st.DroppedAggregates != frames*perFrame ||
		st.DroppedAggregates != st.DroppedFrames*perFrame || st.ForwardedFrames != 0 {
		t.Fatalf("accounting: held %d/%d, dropped %d/%d, forwarded %d, of %d frames × %d", st.Messages, st.Aggregates,
			st.DroppedFrames, st.DroppedAggregates, st.ForwardedFrames, frames, perFrame)
	}
	if ws.Aggregates.Load() != frames*perFrame || ws.PushBackWaits.Load() != 0 {
		t.Fatalf("writer stored %d, push-back waits %d", ws.Aggregates.Load(), ws.PushBackWaits.Load())
	}
	kept := int(st.Messages)
	r.down.set(false)
	r.waitDrained(30 * time.Second)

	want := map[string]bool{}
	for _, fid := range ids[frames-kept:] {
		for _, id := range fid {
			want[id] = true
		}
	}
	recs := testenv.ConsumeUntil(t, r.kfk.ListenAddrs(), "agg.air", 30*time.Second, func(recs []*kgo.Record) bool {
		return len(recs) >= len(want)
	})
	got := map[string]bool{}
	for _, rec := range recs {
		got[aggID(t, rec)] = true
	}
	// A frame dropped while its delivery was in flight may arrive; the
	// forwarder counts those.
	extra := 0
	for id := range got {
		if !want[id] {
			extra++
		}
	}
	if extra > int(r.fw.Stats.DeliveredDropped.Load())*perFrame {
		t.Errorf("%d dropped aggregates reached Kafka; the forwarder reports %d such frames", extra, r.fw.Stats.DeliveredDropped.Load())
	}
	for id := range want {
		if !got[id] {
			t.Errorf("kept aggregate %s missing from Kafka", id)
		}
	}
	final := r.state()
	t.Logf("frames pruned before delivery %d, delivered after being dropped %d", r.fw.Stats.Pruned.Load(), r.fw.Stats.DeliveredDropped.Load())
	if final.DroppedAggregates != st.DroppedAggregates || final.ForwardedAggregates != uint64(len(want)) {
		t.Errorf("after drain: dropped %d (was %d), forwarded %d, want %d", final.DroppedAggregates, st.DroppedAggregates,
			final.ForwardedAggregates, len(want))
	}
}

// TestFullPushBack: with Kafka down and a 64 KiB buffer, push_back stops
// the writer (Flush blocks, retrying) without losing anything, and intake
// resumes when Kafka returns.
func TestFullPushBack(t *testing.T) {
	r := newRig(t, sink.BufferOptions{MaxBytes: smallBuffer, OnFull: sink.PushBack})
	r.down.set(true)
	r.startForwarder(sink.ForwarderOptions{DeliveryTimeout: 300 * time.Millisecond, NakMin: 50 * time.Millisecond, NakMax: 200 * time.Millisecond, AckWait: time.Second})
	const frames, perFrame, nSeries = 20, 40, 20
	keys, fields := seriesTable(t, nSeries), testenv.FieldNames(2)
	var ws sink.WriterStats
	w := sink.NewWriter(r.buf, sink.WriterOptions{Gateway: "gw1", Pipeline: "air", Topic: "agg.air",
		Columns: sink.ColSum | sink.ColMin | sink.ColMax | sink.ColMean, RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond,
		Logger: testLogger()}, keys, fields, &ws)
	var written []string
	progress := make(chan int, frames)
	done := make(chan error, 1)
	go func() {
		for f := 0; f < frames; f++ {
			fid, err := writeFrame(t, r.ctx, w, f, perFrame, nSeries, fields)
			if err != nil {
				done <- err
				return
			}
			written = append(written, fid...)
			progress <- f
		}
		done <- nil
	}()
	// The writer stalls: the buffer refuses frames while Kafka is down.
	testenv.CheckFor(t, 20*time.Second, 10*time.Millisecond, func() error {
		if ws.PushBackWaits.Load() < 3 {
			return fmt.Errorf("%d push-back waits", ws.PushBackWaits.Load())
		}
		return nil
	})
	stalled := ws.Frames.Load()
	st := r.state()
	t.Logf("stalled after %d frames: buffer %d frames, %d bytes; %d refusals", stalled, st.Messages, st.Bytes, st.Full)
	if stalled >= frames || st.Full == 0 || st.DroppedFrames != 0 || st.Bytes > smallBuffer {
		t.Fatalf("push_back: %d frames stored of %d, state %+v", stalled, frames, st)
	}
	select {
	case err := <-done:
		t.Fatalf("writer finished while the buffer was full: %v", err)
	default:
	}
	r.down.set(false)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r.waitDrained(30 * time.Second)
	recs := testenv.ConsumeUntil(t, r.kfk.ListenAddrs(), "agg.air", 30*time.Second, func(recs []*kgo.Record) bool {
		return len(recs) >= len(written)
	})
	got := map[string]bool{}
	for _, rec := range recs {
		got[aggID(t, rec)] = true
	}
	for _, id := range written {
		if !got[id] {
			t.Fatalf("aggregate %s lost under push_back", id)
		}
	}
	final := r.state()
	if final.DroppedAggregates != 0 || final.ForwardedAggregates != frames*perFrame || ws.LostOnShutdown.Load() != 0 {
		t.Fatalf("final: %+v, lost %d", final, ws.LostOnShutdown.Load())
	}
}
