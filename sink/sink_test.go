package sink_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/sink"
)

// TestBufferToKafka sends aggregates through a real JetStream stream and
// the forwarder into kfake, and checks every record: key, value, headers.
func TestBufferToKafka(t *testing.T) {
	ns := testenv.NATS(t, false)
	kc := testenv.Kafka(t)
	nc, err := ns.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	buf, err := sink.OpenBuffer(ctx, nc, sink.BufferOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keys := record.NewSeriesTable(100)
	for i := 0; i < 10; i++ {
		if _, err := keys.Intern([]byte(fmt.Sprintf("city/d1/air/s-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	var ws sink.WriterStats
	w := sink.NewWriter(buf, sink.WriterOptions{
		Gateway: "gw1", Pipeline: "air", Topic: "agg.air", MaxRecords: 7,
		Columns: sink.ColSum | sink.ColMin | sink.ColMax | sink.ColMean,
	}, keys, []string{"pm25", "pm10"}, &ws)
	const n = 30
	for i := 0; i < n; i++ {
		a := record.Aggregate{
			Series: uint32(i % 10), Field: uint16(i / 10 % 2), Start: 1_000_000 + int64(i/10)*10_000,
			Count: uint64(i + 1), Sum: float64(i) * 2.5, Min: -1, Max: float64(i),
		}
		a.End = a.Start + 10_000
		if err := w.Add(ctx, &a, 1763683200000); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ws.Aggregates.Load(); got != n {
		t.Fatalf("aggregates stored: got %d, want %d", got, n)
	}

	cl, err := sink.NewKafkaClient(sink.KafkaOptions{Brokers: kc.ListenAddrs(), AutoCreateTopics: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	fw, err := sink.NewForwarder(ctx, buf, cl, sink.ForwarderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- fw.Run(ctx) }()

	recs := testenv.Consume(t, kc.ListenAddrs(), "agg.air", n, 20*time.Second)
	if len(recs) != n {
		t.Fatalf("got %d records, want %d", len(recs), n)
	}
	for i, r := range recs {
		var v struct {
			ID       string  `json:"id"`
			Series   string  `json:"series"`
			Field    string  `json:"field"`
			Count    uint64  `json:"count"`
			Sum      float64 `json:"sum"`
			Mean     float64 `json:"mean"`
			Gateway  string  `json:"gateway"`
			Revision uint32  `json:"revision"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("record %d: %v: %s", i, err, r.Value)
		}
		if string(r.Key) != v.Series || v.Series != fmt.Sprintf("city/d1/air/s-%d", i%10) {
			t.Errorf("record %d: key %q series %q", i, r.Key, v.Series)
		}
		if v.Count != uint64(i+1) || v.Sum != float64(i)*2.5 || v.Mean != v.Sum/float64(v.Count) {
			t.Errorf("record %d: count %d sum %v mean %v", i, v.Count, v.Sum, v.Mean)
		}
		if testenv.Header(r, "id") != v.ID || testenv.Header(r, "gateway") != "gw1" || testenv.Header(r, "schema") != "1" || testenv.Header(r, "revision") != "0" {
			t.Errorf("record %d: headers %v", i, r.Headers)
		}
		if r.Timestamp.UnixMilli() != 1763683200000 {
			t.Errorf("record %d: timestamp %v", i, r.Timestamp)
		}
	}
	// Every frame acked: the work-queue stream is empty.
	testenv.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		st, err := buf.State(ctx)
		if err != nil {
			return err
		}
		if st.Messages != 0 {
			return testenv.Errorf("backlog %d frames", st.Messages)
		}
		return nil
	})
	if got := fw.Stats.Records.Load(); got != n {
		t.Errorf("forwarder records %d, want %d", got, n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
