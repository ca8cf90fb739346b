package sink_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/sink"
)

// TestOutage5s: Kafka refuses every produce for 5 s mid-stream.
func TestOutage5s(t *testing.T) { testOutage(t, 5*time.Second) }

// testOutage runs a steady stream of aggregates (about 2000/s, frames
// flushed every 50 ms as a shard does) through writer, buffer and
// forwarder while Kafka fails every produce request for the given time,
// then recovers. Every aggregate the writer stored must reach Kafka;
// duplicates may appear only with equal ids and contents. It also checks
// that the backlog drained while the stream went on.
func testOutage(t *testing.T, outage time.Duration) {
	r := newRig(t, sink.BufferOptions{})
	r.startForwarder(sink.ForwarderOptions{DeliveryTimeout: time.Second, NakMin: 100 * time.Millisecond, NakMax: time.Second,
		AckWait: 2 * time.Second})
	const nSeries, nFields = 200, 2
	keys, fields := seriesTable(t, nSeries), testenv.FieldNames(nFields)
	var ws sink.WriterStats
	w := sink.NewWriter(r.buf, sink.WriterOptions{Gateway: "gw1", Pipeline: "air", Topic: "agg.air",
		Columns: sink.ColSum | sink.ColMin | sink.ColMax | sink.ColMean, Logger: testLogger()}, keys, fields, &ws)

	// The stream: 100 aggregates per 50 ms tick until stop is closed.
	stop := make(chan struct{})
	produced := make(chan []string, 1)
	go func() {
		var ids []string
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for seed := uint64(0); ; seed++ {
			select {
			case <-stop:
				if err := w.Flush(r.ctx); err != nil {
					t.Error(err)
				}
				produced <- ids
				return
			case <-tick.C:
			}
			aggs := testenv.CityAggregates(seed, 100, nSeries, nFields)
			for i := range aggs {
				aggs[i].Start += int64(seed) * 3_600_000 // unique windows per tick
				aggs[i].End += int64(seed) * 3_600_000
				if err := w.Add(r.ctx, &aggs[i], time.Now().UnixMilli()); err != nil {
					t.Error(err)
				}
			}
			if err := w.Flush(r.ctx); err != nil {
				t.Error(err)
			}
			ids = append(ids, wantIDs("gw1", "air", aggs, fields)...)
		}
	}()

	// Warm up, then the outage.
	testenv.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if n := r.fw.Stats.Records.Load(); n < 1000 {
			return fmt.Errorf("%d records delivered", n)
		}
		return nil
	})
	r.down.set(true)
	outageEnd := time.NewTimer(outage)
	testenv.CheckFor(t, outage+5*time.Second, 10*time.Millisecond, func() error {
		if r.fw.Stats.RecordErrors.Load() == 0 || !r.fw.Stats.Failing.Load() {
			return fmt.Errorf("forwarder has not seen the outage yet")
		}
		return nil
	})
	<-outageEnd.C
	during := r.state()
	t.Logf("end of %s outage: backlog %d frames, %d aggregates, %d bytes, oldest %s; kafka errors timeout=%d network=%d retriable=%d",
		outage, during.Messages, during.Aggregates, during.Bytes, during.OldestAge.Round(time.Millisecond),
		r.fw.Stats.Errors.Timeout.Load(), r.fw.Stats.Errors.Network.Load(), r.fw.Stats.Errors.Retriable.Load())
	if during.Aggregates < 1000 || during.OldestAge < outage/2 {
		t.Errorf("no backlog built up during the outage: %+v", during)
	}
	r.down.set(false)
	recovered := time.Now()
	// The backlog drains while the stream goes on.
	var peak float64
	testenv.CheckFor(t, 60*time.Second, 10*time.Millisecond, func() error {
		peak = max(peak, r.fw.Stats.DrainRate())
		st := r.state()
		if st.Aggregates > 200 { // about one tick in flight
			return fmt.Errorf("backlog %d aggregates", st.Aggregates)
		}
		return nil
	})
	t.Logf("backlog of %d aggregates drained in %s while the stream continued; peak drain rate %.0f aggregates/s (5 s average)",
		during.Aggregates, time.Since(recovered).Round(time.Millisecond), peak)
	close(stop)
	ids := <-produced
	if got := ws.Aggregates.Load(); got != uint64(len(ids)) {
		t.Fatalf("writer stored %d aggregates, produced %d", got, len(ids))
	}
	r.waitDrained(30 * time.Second)

	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	seen := map[string][]byte{}
	dups := 0
	testenv.ConsumeUntil(t, r.kfk.ListenAddrs(), "agg.air", 60*time.Second, func(recs []*kgo.Record) bool {
		for _, rec := range recs[len(seen)+dups:] {
			id := aggID(t, rec)
			if prev, ok := seen[id]; ok {
				dups++
				if string(prev) != string(rec.Value) {
					t.Fatalf("duplicate id %s with different contents:\n%s\n%s", id, prev, rec.Value)
				}
				continue
			}
			seen[id] = rec.Value
		}
		return len(seen) >= len(want)
	})
	for id := range want {
		if _, ok := seen[id]; !ok {
			t.Fatalf("aggregate %s stored in JetStream never reached Kafka", id)
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("kafka has %d distinct ids, produced %d", len(seen), len(want))
	}
	st := r.state()
	if st.DroppedAggregates != 0 || st.ForwardedAggregates != uint64(len(ids)) {
		t.Errorf("buffer: forwarded %d dropped %d, want %d and 0", st.ForwardedAggregates, st.DroppedAggregates, len(ids))
	}
	t.Logf("%d aggregates, %d duplicates in Kafka; forwarder retried %d frames", len(ids), dups, r.fw.Stats.Naks.Load())
}
