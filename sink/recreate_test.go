package sink_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/sink"
)

// stream writes 100 aggregates every 50 ms (unique windows per tick)
// through a writer into the rig's buffer until stop is called, which
// flushes and returns the ids of every aggregate the writer stored, in
// order, with the index of the first one written after mark was called.
type stream struct {
	mu   sync.Mutex
	ids  []string
	mark int
	stop func() []string
}

func startStream(t *testing.T, r *rig, topic string) *stream {
	t.Helper()
	const nSeries, nFields = 200, 2
	keys, fields := seriesTable(t, nSeries), testenv.FieldNames(nFields)
	w := sink.NewWriter(r.buf, sink.WriterOptions{Gateway: "gw1", Pipeline: "air", Topic: topic,
		Columns: sink.ColSum | sink.ColMin | sink.ColMax | sink.ColMean, Logger: testLogger()}, keys, fields, new(sink.WriterStats))
	s := &stream{mark: -1}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for seed := uint64(0); ; seed++ {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			aggs := testenv.CityAggregates(seed, 100, nSeries, nFields)
			for i := range aggs {
				aggs[i].Start += int64(seed) * 3_600_000
				aggs[i].End += int64(seed) * 3_600_000
				if err := w.Add(r.ctx, &aggs[i], time.Now().UnixMilli()); err != nil {
					t.Error(err)
				}
			}
			if err := w.Flush(r.ctx); err != nil {
				t.Error(err)
			}
			s.mu.Lock()
			s.ids = append(s.ids, wantIDs("gw1", "air", aggs, fields)...)
			s.mu.Unlock()
		}
	}()
	s.stop = func() []string {
		close(done)
		<-stopped
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.ids
	}
	return s
}

// waitMore waits until the stream has stored n more batches of
// aggregates (one batch per 50 ms tick): the load goes on past an event.
func (s *stream) waitMore(t *testing.T, n int) {
	t.Helper()
	s.mu.Lock()
	want := len(s.ids) + n*100*2 // 100 aggregates × 2 fields per batch
	s.mu.Unlock()
	testenv.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.ids) < want {
			return fmt.Errorf("%d aggregates stored, want %d", len(s.ids), want)
		}
		return nil
	})
}

// markNow notes that the aggregates stored from now on must arrive.
func (s *stream) markNow() {
	s.mu.Lock()
	s.mark = len(s.ids)
	s.mu.Unlock()
}

// TestTopicRecreated: the topic is deleted under load and created again
// (new topic id), at once or 3 s later. The forwarder must resume by
// itself and every aggregate stored since the delete must be in the new
// topic within 10 s of its return. Aggregates Kafka acknowledged before
// the delete went with the old topic.
func TestTopicRecreated(t *testing.T) {
	t.Run("at once", func(t *testing.T) { testTopicRecreated(t, 0) })
	t.Run("after 3s", func(t *testing.T) { testTopicRecreated(t, 3*time.Second) })
}

func testTopicRecreated(t *testing.T, gap time.Duration) {
	const topic = "agg.air"
	r := newRig(t, sink.BufferOptions{})
	// No auto-creation: the topic comes back only when recreated.
	kfk, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kfk.Close)
	r.kfk = kfk
	r.startForwarder(sink.ForwarderOptions{})
	s := startStream(t, r, topic)

	testenv.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if n := r.fw.Stats.Records.Load(); n < 1000 {
			return fmt.Errorf("%d records delivered", n)
		}
		return nil
	})
	if err := kfk.DeleteTopic(topic); err != nil {
		t.Fatal(err)
	}
	s.markNow()
	time.Sleep(gap)
	if err := kfk.CreateTopic(topic, 1, nil); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	s.waitMore(t, 20) // the stream goes on after the topic's return
	ids := s.stop()
	want := map[string]bool{}
	for _, id := range ids[s.mark:] {
		want[id] = true
	}
	if len(want) < 2000 {
		t.Fatalf("only %d aggregates written since the delete", len(want))
	}
	seen := map[string]bool{}
	recs := 0
	testenv.ConsumeUntil(t, kfk.ListenAddrs(), topic, time.Until(back.Add(10*time.Second)), func(rs []*kgo.Record) bool {
		for _, rec := range rs[recs:] {
			if id := aggID(t, rec); want[id] {
				seen[id] = true
			}
		}
		recs = len(rs)
		return len(seen) == len(want)
	})
	t.Logf("%d aggregates stored since the delete all in the recreated topic %s after its return (%d records there); kafka errors retriable=%d rejected=%d timeout=%d",
		len(want), time.Since(back).Round(time.Millisecond), recs,
		r.fw.Stats.Errors.Retriable.Load(), r.fw.Stats.Errors.Rejected.Load(), r.fw.Stats.Errors.Timeout.Load())
	r.waitDrained(10 * time.Second)
}
