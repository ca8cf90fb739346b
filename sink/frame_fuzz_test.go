package sink_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/sink"
)

// FuzzDecodeFrame: frames are outside bytes once on disk; any input
// decodes or fails with ErrBadFrame, never panics.
func FuzzDecodeFrame(f *testing.F) {
	keys, fields := seriesTable(f, 10), testenv.FieldNames(2)
	aggs := testenv.CityAggregates(1, 20, 10, 2)
	for _, format := range []sink.RecordFormat{sink.RecordJSON, sink.RecordCompact} {
		w := sink.NewWriter(nil, sink.WriterOptions{Gateway: "gw", Pipeline: "p", Topic: "t", Columns: sink.ColSum, Format: format,
			MaxRecords: 1 << 20, MaxBytes: 1 << 30}, keys, fields, new(sink.WriterStats))
		for i := range aggs {
			_ = w.Add(context.Background(), &aggs[i], 1)
		}
		f.Add(bytes.Clone(w.FrameForTest()))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		var fr sink.Frame
		if err := sink.DecodeFrame(p, &fr); err != nil {
			return
		}
		for _, r := range fr.Records {
			_ = len(r.Key) + len(r.Value) + len(r.ID)
		}
	})
}
