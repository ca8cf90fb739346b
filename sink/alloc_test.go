package sink_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/sink"
	"github.com/edgeplane/edgeplane/sink/compact"
)

// Steady-state allocation budgets of the per-item hot paths: zero.
func TestAllocs(t *testing.T) {
	if testenv.RaceEnabled {
		t.Skip("allocation counts do not hold under -race")
	}
	const nSeries = 100
	keys, fields := seriesTable(t, nSeries), testenv.FieldNames(2)
	aggs := testenv.CityAggregates(1, 1000, nSeries, 2)
	cols := sink.ColSum | sink.ColMin | sink.ColMax | sink.ColMean | sink.ColLast | sink.ColStddev | sink.ColQuantiles
	ctx := context.Background()
	f := func(name string, budget float64, fn func(i int)) {
		t.Helper()
		i := 0
		for ; i < 3000; i++ { // warm up: buffers reach their steady size
			fn(i)
		}
		got := testing.AllocsPerRun(1000, func() { fn(i); i++ })
		if got > budget {
			t.Errorf("%s: %v allocs per call, budget %v", name, got, budget)
		}
	}
	// The writers never flush here (no Buffer behind them): MaxRecords
	// and MaxBytes are out of reach, so Add is measured alone.
	big := sink.WriterOptions{Gateway: "gw1", Pipeline: "air", Topic: "t", Columns: cols, MaxRecords: 1 << 30, MaxBytes: 1 << 30}
	jw := sink.NewWriter(nil, big, keys, fields, new(sink.WriterStats))
	f("Writer.Add json", 0, func(i int) { _ = jw.Add(ctx, &aggs[i%len(aggs)], 1) })
	// Keyed by id, with every fourth aggregate a retraction (a tombstone).
	idOpts := big
	idOpts.Key, idOpts.WindowSpec = sink.KeyID, "v1 session size=0 advance=0 gap=30000 offset=0 lateness=0 emit=update"
	iw := sink.NewWriter(nil, idOpts, keys, fields, new(sink.WriterStats))
	retracted := make([]record.Aggregate, len(aggs))
	for i := range aggs {
		retracted[i] = aggs[i]
		if i%4 == 0 {
			retracted[i] = retraction(aggs[i], 1)
		}
	}
	f("Writer.Add json key id, retractions", 0, func(i int) { _ = iw.Add(ctx, &retracted[i%len(retracted)], 1) })
	big.Format = sink.RecordCompact
	cw := sink.NewWriter(nil, big, keys, fields, new(sink.WriterStats))
	f("Writer.Add compact", 0, func(i int) { _ = cw.Add(ctx, &aggs[i%len(aggs)], 1) })
	lw := sink.NewLateWriter(nil, sink.LateWriterOptions{Gateway: "gw1", Pipeline: "air", Topic: "late", MaxRecords: 1 << 30, MaxBytes: 1 << 30},
		keys, fields, new(sink.WriterStats))
	f("LateWriter.Add", 0, func(i int) {
		s := record.Sample{Series: uint32(i % nSeries), Time: int64(i), Value: 1.5, Seq: uint64(i)}
		_ = lw.Add(ctx, &s, 2)
	})
	var id, val []byte
	who := sink.Identity{Gateway: "gw1", Pipeline: "air", Series: "city/d1/air/s-0001", Field: "pm25"}
	f("AppendID+AppendJSON", 0, func(i int) {
		id = sink.AppendID(id[:0], &who, aggs[i%len(aggs)].Start)
		val = sink.AppendJSON(val[:0], &aggs[i%len(aggs)], id, &who, cols)
	})
	// The forwarder decodes every fetched frame into a reused Frame.
	jsonOpts := big
	jsonOpts.Format = sink.RecordJSON
	fw := sink.NewWriter(nil, jsonOpts, keys, fields, new(sink.WriterStats))
	for i := 0; i < 512; i++ {
		_ = fw.Add(ctx, &aggs[i%len(aggs)], 1)
	}
	frameBytes := bytes.Clone(fw.FrameForTest())
	var decoded sink.Frame
	f("DecodeFrame of 512 records, reused", 0, func(int) {
		if err := sink.DecodeFrame(frameBytes, &decoded); err != nil || len(decoded.Records) != 512 {
			t.Fatalf("DecodeFrame: %v, %d records", err, len(decoded.Records))
		}
	})
	// A whole compact block of 512 aggregates, encoded and compressed:
	// the per-block cost stays small and constant.
	enc := compact.NewEncoder(compact.Options{Gateway: "gw1", Pipeline: "air", Columns: cols, Codec: compact.CodecZstd})
	series := make([]string, nSeries)
	for i := range series {
		series[i] = testenv.SeriesKey(i)
	}
	var block []byte
	f("compact block of 512 (zstd)", 0, func(int) {
		for j := 0; j < 512; j++ {
			enc.Add(&aggs[j], series[aggs[j].Series], fields[aggs[j].Field])
		}
		block = enc.AppendBlock(block[:0])
	})
	var b compact.Block
	f("compact.Decode of 512", 0, func(int) {
		if err := compact.Decode(block, &b); err != nil {
			t.Fatal(err)
		}
	})
}
