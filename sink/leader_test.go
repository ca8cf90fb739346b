package sink_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/sink"
)

// TestLeaderChange: after the partition leader moves to another broker,
// the next frame is delivered within a few seconds (low MetadataMinAge,
// short retry backoff), not after franz-go's default metadata wait.
func TestLeaderChange(t *testing.T) {
	r := newRig(t, sink.BufferOptions{})
	r.kfk = testenv.Kafka(t, kfake.NumBrokers(3), kfake.SeedTopics(1, "agg.air"))
	r.startForwarder(sink.ForwarderOptions{FetchWait: 50 * time.Millisecond})
	keys, fields := seriesTable(t, 10), testenv.FieldNames(1)
	w := sink.NewWriter(r.buf, sink.WriterOptions{Gateway: "gw1", Pipeline: "air", Topic: "agg.air", Columns: sink.ColSum}, keys, fields, new(sink.WriterStats))
	frame := 0
	deliver := func() time.Duration {
		t.Helper()
		want := r.fw.Stats.Frames.Load() + 1
		start := time.Now()
		if _, err := writeFrame(t, r.ctx, w, frame, 10, 10, fields); err != nil {
			t.Fatal(err)
		}
		frame++
		testenv.CheckFor(t, 10*time.Second, time.Millisecond, func() error {
			if r.fw.Stats.Frames.Load() < want {
				return fmt.Errorf("frame not delivered")
			}
			return nil
		})
		return time.Since(start)
	}
	deliver()
	var worst time.Duration
	for move := 0; move < 3; move++ {
		leader := r.kfk.LeaderFor("agg.air", 0)
		next := (leader + 1) % 3
		if err := r.kfk.MoveTopicPartition("agg.air", 0, next); err != nil {
			t.Fatal(err)
		}
		d := deliver()
		worst = max(worst, d)
		t.Logf("leader %d → %d: next frame delivered in %s", leader, next, d.Round(time.Millisecond))
	}
	// 13–15 ms on the dev VM (2026-12-06). The bound is franz-go's default
	// MetadataMinAge (5 s), which the low setting is there to beat, less
	// room; tighter bounds are a timing test on a loaded CI host.
	if worst > 3*time.Second {
		t.Errorf("delivery after a leader change took %s, want under 3 s", worst)
	}
}
