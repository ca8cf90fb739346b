package sink_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/sink"
)

// FuzzDecodeFrame: frames are outside bytes once on disk; any input
// decodes or fails with ErrBadFrame, never panics.
func FuzzDecodeFrame(f *testing.F) {
	keys, fields := seriesTable(f, 10), testenv.FieldNames(2)
	aggs := testenv.CityAggregates(1, 20, 10, 2)
	aggs[3] = retraction(aggs[3], 2)
	for _, key := range []sink.RecordKey{sink.KeySeries, sink.KeyID} {
		for _, format := range []sink.RecordFormat{sink.RecordJSON, sink.RecordCompact} {
			if key == sink.KeyID && format == sink.RecordCompact {
				continue
			}
			w := sink.NewWriter(nil, sink.WriterOptions{Gateway: "gw", Pipeline: "p", Topic: "t", Columns: sink.ColSum, Format: format,
				Key: key, WindowSpec: testWindow, MaxRecords: 1 << 20, MaxBytes: 1 << 30}, keys, fields, new(sink.WriterStats))
			for i := range aggs {
				_ = w.Add(context.Background(), &aggs[i], 1)
			}
			f.Add(bytes.Clone(w.FrameForTest()))
		}
	}
	if old, err := os.ReadFile(filepath.Join("testdata", "epf1", "frame_json.bin")); err == nil {
		f.Add(old)
	} else {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		var fr sink.Frame
		if err := sink.DecodeFrame(p, &fr); err != nil {
			return
		}
		for _, r := range fr.Records {
			if r.Null != (r.Value == nil) {
				t.Fatalf("null %v with value %q", r.Null, r.Value)
			}
		}
	})
}
