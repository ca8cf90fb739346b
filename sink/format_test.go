package sink_test

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/sink"
	"github.com/edgeplane/edgeplane/sink/compact"
)

// TestCompactToKafka: the same aggregates written in compact format reach
// Kafka as a few records whose decoded JSON lines equal, byte for byte,
// the values the json format sends.
func TestCompactToKafka(t *testing.T) {
	r := newRig(t, sink.BufferOptions{})
	const n, nSeries = 1000, 100
	aggs := testenv.CityAggregates(1, n, nSeries, 2)
	keys, fields := seriesTable(t, nSeries), testenv.FieldNames(2)
	cols := sink.ColSum | sink.ColMin | sink.ColMax | sink.ColMean | sink.ColLast
	var jstats, cstats sink.WriterStats
	jw := sink.NewWriter(r.buf, sink.WriterOptions{Gateway: "gw1", Pipeline: "air", Topic: "agg.json", Columns: cols}, keys, fields, &jstats)
	cw := sink.NewWriter(r.buf, sink.WriterOptions{Gateway: "gw1", Pipeline: "air", Topic: "agg.compact", Columns: cols,
		Format: sink.RecordCompact, MaxRecords: 300}, keys, fields, &cstats)
	for i := range aggs {
		if err := jw.Add(r.ctx, &aggs[i], 1763683300000); err != nil {
			t.Fatal(err)
		}
		if err := cw.Add(r.ctx, &aggs[i], 1763683300000); err != nil {
			t.Fatal(err)
		}
	}
	if err := jw.Flush(r.ctx); err != nil {
		t.Fatal(err)
	}
	if err := cw.Flush(r.ctx); err != nil {
		t.Fatal(err)
	}
	if got := cstats.Aggregates.Load(); got != n {
		t.Fatalf("compact writer stored %d aggregates, want %d", got, n)
	}
	st := r.state()
	if st.Aggregates != 2*n || st.PublishedAggregates != 2*n {
		t.Fatalf("buffer holds %d aggregates (published %d), want %d", st.Aggregates, st.PublishedAggregates, 2*n)
	}
	r.startForwarder(sink.ForwarderOptions{})
	jrecs := testenv.Consume(t, r.kfk.ListenAddrs(), "agg.json", n, 20*time.Second)
	var want bytes.Buffer
	jsonBytes := 0
	for _, rec := range jrecs {
		jsonBytes += len(rec.Key) + len(rec.Value)
		want.Write(rec.Value)
		want.WriteByte('\n')
	}
	var got bytes.Buffer
	var nrec int
	testenv.ConsumeUntil(t, r.kfk.ListenAddrs(), "agg.compact", 20*time.Second, func(recs []*kgo.Record) bool {
		got.Reset()
		for _, rec := range recs {
			if testenv.Header(rec, "format") != "compact" || testenv.Header(rec, "gateway") != "gw1" || string(rec.Key) != "gw1" {
				t.Fatalf("compact record headers %v key %q", rec.Headers, rec.Key)
			}
			if err := compact.WriteJSONLines(&got, rec.Value); err != nil {
				t.Fatal(err)
			}
		}
		nrec = len(recs)
		return bytes.Count(got.Bytes(), []byte("\n")) >= n
	})
	if nrec != 4 {
		t.Errorf("compact: %d records, want 4 (1000 aggregates, 300 per block)", nrec)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("compact records decode to different JSON than the json records")
	}
	r.waitDrained(10 * time.Second)
	st = r.state()
	if st.ForwardedAggregates != 2*n || st.DroppedAggregates != 0 {
		t.Fatalf("forwarded %d dropped %d, want %d and 0", st.ForwardedAggregates, st.DroppedAggregates, 2*n)
	}
	t.Logf("key+value bytes per aggregate before Kafka batch compression: json %.1f, compact %.1f",
		float64(jsonBytes)/n, float64(int(r.fw.Stats.Bytes.Load())-jsonBytes)/n)
}

// TestLateWriter: late events reach the late topic as flat JSON with
// their ids, through the same buffer and forwarder, and count apart.
func TestLateWriter(t *testing.T) {
	r := newRig(t, sink.BufferOptions{})
	keys, fields := seriesTable(t, 3), testenv.FieldNames(2)
	var ls sink.WriterStats
	lw := sink.NewLateWriter(r.buf, sink.LateWriterOptions{Gateway: "gw1", Pipeline: "air", Topic: "late.air", MaxRecords: 4}, keys, fields, &ls)
	const n = 10
	for i := 0; i < n; i++ {
		s := record.Sample{Series: uint32(i % 3), Field: uint16(i % 2), Time: 1763683200000 + int64(i), Value: float64(i) + 0.5, Seq: uint64(100 + i)}
		if err := lw.Add(r.ctx, &s, 1763683299000); err != nil {
			t.Fatal(err)
		}
	}
	marker := record.Sample{Flags: record.FlagWatermark, Time: 1}
	if err := lw.Add(r.ctx, &marker, 0); err != nil || lw.Pending() != 2 {
		t.Fatalf("marker: %v, pending %d", err, lw.Pending())
	}
	if err := lw.Flush(r.ctx); err != nil {
		t.Fatal(err)
	}
	if st := r.state(); st.LateEvents != n || st.Aggregates != 0 || ls.Aggregates.Load() != n {
		t.Fatalf("buffer holds %d late events, %d aggregates; writer stored %d", st.LateEvents, st.Aggregates, ls.Aggregates.Load())
	}
	r.startForwarder(sink.ForwarderOptions{})
	recs := testenv.Consume(t, r.kfk.ListenAddrs(), "late.air", n, 20*time.Second)
	if len(recs) != n {
		t.Fatalf("got %d late records, want %d", len(recs), n)
	}
	for i, rec := range recs {
		var v struct {
			ID, Gateway, Pipeline, Series, Field string
			TS, Received                         int64
			Value                                float64
		}
		if err := json.Unmarshal(rec.Value, &v); err != nil {
			t.Fatal(err)
		}
		who := sink.Identity{Gateway: "gw1", Pipeline: "air", Series: testenv.SeriesKey(i % 3), Field: fields[i%2]}
		wantID := string(sink.AppendID(nil, &who, 1763683200000+int64(i))) + "-" + strconv.Itoa(100+i)
		if v.ID != wantID || testenv.Header(rec, "id") != wantID || testenv.Header(rec, "kind") != "late" ||
			v.Series != who.Series || string(rec.Key) != who.Series || v.Field != who.Field || v.Gateway != "gw1" || v.Pipeline != "air" ||
			v.TS != 1763683200000+int64(i) || v.Value != float64(i)+0.5 || v.Received != 1763683299000 {
			t.Errorf("late record %d: %s headers %v", i, rec.Value, rec.Headers)
		}
	}
	r.waitDrained(10 * time.Second)
	if st := r.state(); st.ForwardedLateEvents != n || st.DroppedLateEvents != 0 {
		t.Fatalf("forwarded %d late events, dropped %d", st.ForwardedLateEvents, st.DroppedLateEvents)
	}
}
