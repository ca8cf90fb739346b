package sink_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/sink"
)

func errorsTotal(s *sink.ForwarderStats) uint64 {
	e := &s.Errors
	return e.Timeout.Load() + e.Network.Load() + e.Retriable.Load() + e.Auth.Load() + e.Rejected.Load() + e.Other.Load()
}

// TestErrorsCountAttempts: while Kafka refuses every produce for 2 s
// (alternately a retriable error and a dropped connection), both causes
// are counted within those 2 s, long before the 30 s DeliveryTimeout:
// dropped connections as the client meets them, refused batches when
// they fail after the client's few tries. Every frame is then delivered.
func TestErrorsCountAttempts(t *testing.T) {
	r := newRig(t, sink.BufferOptions{})
	r.startForwarder(sink.ForwarderOptions{}) // DeliveryTimeout 30 s
	keys, fields := seriesTable(t, 10), testenv.FieldNames(1)
	w := sink.NewWriter(r.buf, sink.WriterOptions{Gateway: "gw1", Pipeline: "air", Topic: "agg.air", Columns: sink.ColSum}, keys, fields, new(sink.WriterStats))
	if _, err := writeFrame(t, r.ctx, w, 0, 10, 10, fields); err != nil {
		t.Fatal(err)
	}
	r.waitDrained(10 * time.Second)
	if n := errorsTotal(&r.fw.Stats); n != 0 {
		t.Fatalf("%d errors counted before the outage", n)
	}
	r.down.set(true)
	for f := 1; f <= 5; f++ {
		if _, err := writeFrame(t, r.ctx, w, f, 10, 10, fields); err != nil {
			t.Fatal(err)
		}
	}
	testenv.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if errorsTotal(&r.fw.Stats) == 0 {
			return fmt.Errorf("no error counted during the outage")
		}
		return nil
	})
	e := &r.fw.Stats.Errors
	testenv.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if e.Retriable.Load() == 0 || e.Network.Load() == 0 {
			return fmt.Errorf("retriable %d, network %d", e.Retriable.Load(), e.Network.Load())
		}
		return nil
	})
	t.Logf("while produces are refused: retriable=%d network=%d timeout=%d; records failed %d, frames retried %d",
		e.Retriable.Load(), e.Network.Load(), e.Timeout.Load(), r.fw.Stats.RecordErrors.Load(), r.fw.Stats.Naks.Load())
	if e.Retriable.Load() == 0 || e.Network.Load() == 0 {
		t.Errorf("want both refused batches (retriable) and dropped connections (network) counted")
	}
	r.down.set(false)
	r.waitDrained(10 * time.Second)
	// A frame leaves the buffer a moment before it is counted delivered.
	testenv.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if got := r.fw.Stats.Frames.Load(); got != 6 {
			return fmt.Errorf("%d frames delivered, want 6", got)
		}
		return nil
	})
}

// TestBrokerRestart: the only broker stops for 2 s under load and comes
// back on the same port with its data (kfake's DataDir). The error
// counters move while it is down, the forwarder resumes by itself, and
// every aggregate the writer stored is in Kafka within 10 s of the
// broker's return.
func TestBrokerRestart(t *testing.T) {
	const topic = "agg.air"
	r := newRig(t, sink.BufferOptions{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	start := func() *kfake.Cluster {
		t.Helper()
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(dir), kfake.SyncWrites(),
			kfake.DefaultNumPartitions(1), kfake.SeedTopics(1, topic))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	kfk := start()
	r.kfk = kfk
	r.startForwarder(sink.ForwarderOptions{})
	s := startStream(t, r, topic)
	testenv.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if n := r.fw.Stats.Records.Load(); n < 1000 {
			return fmt.Errorf("%d records delivered", n)
		}
		return nil
	})
	kfk.Close()
	testenv.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if errorsTotal(&r.fw.Stats) == 0 {
			return fmt.Errorf("no error counted while the broker is down")
		}
		return nil
	})
	// Keep the broker down until several attempts have failed.
	first := errorsTotal(&r.fw.Stats)
	testenv.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if n := errorsTotal(&r.fw.Stats); n < first+3 {
			return fmt.Errorf("%d errors while down, want %d", n, first+3)
		}
		return nil
	})
	down := errorsTotal(&r.fw.Stats)
	kfk = start()
	t.Cleanup(kfk.Close)
	back := time.Now()
	s.waitMore(t, 20) // the stream goes on after the broker's return
	ids := s.stop()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	seen := map[string]bool{}
	recs := 0
	testenv.ConsumeUntil(t, kfk.ListenAddrs(), topic, time.Until(back.Add(10*time.Second)), func(rs []*kgo.Record) bool {
		for _, rec := range rs[recs:] {
			seen[aggID(t, rec)] = true
		}
		recs = len(rs)
		return len(seen) >= len(want)
	})
	for id := range want {
		if !seen[id] {
			t.Fatalf("aggregate %s never reached Kafka", id)
		}
	}
	e := &r.fw.Stats.Errors
	t.Logf("%d aggregates all in Kafka %s after the broker's return (%d records); %d errors counted while down (network=%d retriable=%d timeout=%d other=%d)",
		len(want), time.Since(back).Round(time.Millisecond), recs, down, e.Network.Load(), e.Retriable.Load(), e.Timeout.Load(), e.Other.Load())
}

// TestStall: with StallAfter 300 ms, a forwarder whose frames Kafka
// refuses reports a stall naming the last error, and stops reporting it
// after the next acknowledgement. An idle forwarder is not stalled.
func TestStall(t *testing.T) {
	r := newRig(t, sink.BufferOptions{})
	r.startForwarder(sink.ForwarderOptions{StallAfter: 300 * time.Millisecond, NakMin: 50 * time.Millisecond, NakMax: 200 * time.Millisecond})
	keys, fields := seriesTable(t, 10), testenv.FieldNames(1)
	w := sink.NewWriter(r.buf, sink.WriterOptions{Gateway: "gw1", Pipeline: "air", Topic: "agg.air", Columns: sink.ColSum}, keys, fields, new(sink.WriterStats))
	if _, err := writeFrame(t, r.ctx, w, 0, 10, 10, fields); err != nil {
		t.Fatal(err)
	}
	r.waitDrained(10 * time.Second)
	// Idle for longer than StallAfter: without a backlog nothing may be
	// reported. The threshold is wall-clock time, so this one waits.
	time.Sleep(500 * time.Millisecond)
	if stalled, why := r.fw.Stall(); stalled {
		t.Fatalf("idle forwarder stalled: %s", why)
	}
	r.down.set(true)
	if _, err := writeFrame(t, r.ctx, w, 1, 10, 10, fields); err != nil {
		t.Fatal(err)
	}
	var reason string
	testenv.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		var stalled bool
		if stalled, reason = r.fw.Stall(); !stalled {
			return fmt.Errorf("not stalled")
		}
		return nil
	})
	t.Logf("stall: %s", reason)
	if !strings.Contains(reason, "last error: ") || !strings.Contains(reason, "1 frames wait") {
		t.Errorf("reason %q does not name the waiting frames and the last error", reason)
	}
	r.down.set(false)
	testenv.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if stalled, why := r.fw.Stall(); stalled {
			return fmt.Errorf("still stalled: %s", why)
		}
		return nil
	})
	r.waitDrained(5 * time.Second)
}
