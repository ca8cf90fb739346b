package sink_test

import (
	"bytes"
	"context"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/sink"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGolden pins the bytes of both formats' frames (the JetStream message
// bodies), the json values and the late-event values. Package compact has
// its own goldens for the block layout.
func TestGolden(t *testing.T) {
	aggs := testenv.CityAggregates(7, 12, 3, 2)
	aggs[1].Revision, aggs[1].Late, aggs[1].Flags = 2, 3, record.AggFinal
	aggs[2].NQ, aggs[2].Q[0], aggs[2].QV[0], aggs[2].Q[1], aggs[2].QV[1] = 2, 0.5, 17.5, 0.999, 31.25
	aggs[3].Sum = math.Inf(1)
	aggs[4].Kind = record.Session
	aggs[5] = retraction(aggs[4], 1)
	keys, fields := seriesTable(t, 3), []string{"pm25", "temp \"C\""}
	cols := sink.ColSum | sink.ColMin | sink.ColMax | sink.ColMean | sink.ColFirst | sink.ColLast |
		sink.ColVariance | sink.ColStddev | sink.ColRate | sink.ColQuantiles
	for _, out := range []struct {
		name   string
		format sink.RecordFormat
		key    sink.RecordKey
	}{{"json", sink.RecordJSON, sink.KeySeries}, {"compact", sink.RecordCompact, sink.KeySeries}, {"json_id", sink.RecordJSON, sink.KeyID}} {
		w := sink.NewWriter(nil, sink.WriterOptions{Gateway: "gw1", Pipeline: "air", Topic: "agg.air", Columns: cols, Format: out.format,
			Key: out.key, WindowSpec: testWindow, MaxRecords: 1000, MaxBytes: 1 << 20}, keys, fields, new(sink.WriterStats))
		for i := range aggs {
			if err := w.Add(context.Background(), &aggs[i], 1763683300000+int64(i)); err != nil {
				t.Fatal(err)
			}
		}
		frame := w.FrameForTest()
		golden(t, "frame_"+out.name+".bin", frame)
		if out.name == "json" {
			var f sink.Frame
			if err := sink.DecodeFrame(frame, &f); err != nil {
				t.Fatal(err)
			}
			var lines []byte
			for _, r := range f.Records {
				lines = append(append(lines, r.Value...), '\n')
			}
			golden(t, "values_json.jsonl", lines)
		}
	}
	var late []byte
	who := sink.Identity{Gateway: "gw1", Pipeline: "air", Series: testenv.SeriesKey(1), Field: "pm25"}
	for i, v := range []float64{12.5, math.NaN(), -0.25} {
		s := record.Sample{Time: 1763683200000 + int64(i)*1000, Value: v, Seq: uint64(i)}
		id := append(sink.AppendID(nil, &who, s.Time), '-', byte('0'+i))
		late = append(sink.AppendLateJSON(late, &s, id, &who, 1763683300000), '\n')
	}
	golden(t, "values_late.jsonl", late)
}

// testWindow is a window definition as operators.Config.Spec writes it.
const testWindow = "v1 session size=0 advance=0 gap=30000 offset=0 lateness=0 emit=update"

// retraction returns the retraction of a's id with the given revision: a
// session whose start moved (record.AggRetracted: no values).
func retraction(a record.Aggregate, revision uint32) record.Aggregate {
	return record.Aggregate{Series: a.Series, Field: a.Field, Kind: record.Session, Flags: record.AggRetracted,
		Revision: revision, Start: a.Start, End: a.End}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: output differs from the golden file (%d vs %d bytes); run with -update if intended", path, len(got), len(want))
	}
}
