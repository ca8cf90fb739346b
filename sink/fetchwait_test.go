package sink_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/sink"
)

// TestForwarderLongPoll: the forwarder's wait on an empty buffer ends at
// once when a frame arrives and when it is stopped, however long
// FetchWait is; waits that run out are not fetch errors.
func TestForwarderLongPoll(t *testing.T) {
	for _, wait := range []time.Duration{30 * time.Second, 100 * time.Millisecond} {
		r := newRig(t, sink.BufferOptions{})
		kc, err := sink.NewKafkaClient(sink.KafkaOptions{Brokers: r.kfk.ListenAddrs(), AutoCreateTopics: true, Logger: testLogger()})
		if err != nil {
			t.Fatal(err)
		}
		defer kc.Close()
		fw, err := sink.NewForwarder(r.ctx, r.buf, kc, sink.ForwarderOptions{FetchWait: wait, Logger: testLogger()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(r.ctx)
		done := make(chan error, 1)
		go func() { done <- fw.Run(ctx) }()

		keys, fields := seriesTable(t, 10), testenv.FieldNames(1)
		w := sink.NewWriter(r.buf, sink.WriterOptions{Gateway: "gw1", Pipeline: "air", Topic: "agg.air", Columns: sink.ColSum}, keys, fields, new(sink.WriterStats))
		// The first frame may arrive before the forwarder waits; the
		// second arrives while it waits on the emptied buffer.
		for frame := range 2 {
			sent := time.Now()
			if _, err := writeFrame(t, r.ctx, w, frame, 10, 10, fields); err != nil {
				t.Fatal(err)
			}
			testenv.CheckFor(t, 10*time.Second, time.Millisecond, func() error {
				if fw.Stats.Frames.Load() < uint64(frame+1) {
					return fmt.Errorf("frame %d not delivered", frame)
				}
				return nil
			})
			// A third of the 30 s wait proves it was cut short and leaves
			// a loaded host room.
			if d := time.Since(sent); d > 10*time.Second {
				t.Errorf("FetchWait %s: a frame arriving during the wait was delivered after %s", wait, d)
			}
		}
		stop := time.Now()
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("FetchWait %s: the forwarder did not stop within 10 s", wait)
		}
		if d := time.Since(stop); d > 10*time.Second {
			t.Errorf("FetchWait %s: stopping took %s, want the wait cut short", wait, d)
		}
		if n := fw.Stats.FetchErrors.Load(); n != 0 {
			t.Errorf("FetchWait %s: %d fetch errors from waits that ran out", wait, n)
		}
	}
}
