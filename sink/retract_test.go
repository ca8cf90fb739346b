package sink_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/sink"
	"github.com/edgeplane/edgeplane/sink/compact"
)

// frameIDs returns the ids of the records of a json writer's frame.
func frameIDs(t *testing.T, w *sink.Writer) []string {
	t.Helper()
	var f sink.Frame
	if err := sink.DecodeFrame(w.FrameForTest(), &f); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range f.Records {
		ids = append(ids, string(r.ID))
	}
	w.ResetForTest()
	return ids
}

// TestIDCoversWindowDefinition: the reload from size 2s to 4s.
// Writers of different window definitions give the same (series, field,
// start) different ids; the same definition gives the same id.
func TestIDCoversWindowDefinition(t *testing.T) {
	keys, fields := seriesTable(t, 3), testenv.FieldNames(2)
	aggs := testenv.CityAggregates(5, 12, 3, 2)
	const spec2s = "v1 tumbling size=2000 advance=2000 gap=0 offset=0 lateness=0 emit=update"
	const spec4s = "v1 tumbling size=4000 advance=4000 gap=0 offset=0 lateness=0 emit=update"
	ids := func(spec string) []string {
		w := sink.NewWriter(nil, sink.WriterOptions{Gateway: "gw1", Pipeline: "air", Topic: "t", WindowSpec: spec,
			MaxRecords: 1000, MaxBytes: 1 << 20}, keys, fields, new(sink.WriterStats))
		for i := range aggs {
			if err := w.Add(context.Background(), &aggs[i], 1); err != nil {
				t.Fatal(err)
			}
		}
		return frameIDs(t, w)
	}
	a, b, a2 := ids(spec2s), ids(spec4s), ids(spec2s)
	for i := range aggs {
		if a[i] == b[i] {
			t.Errorf("aggregate %d: id %s under both window definitions", i, a[i])
		}
		if a[i] != a2[i] {
			t.Errorf("aggregate %d: id %s, then %s under the same definition", i, a[i], a2[i])
		}
		start := "-" + strconv.FormatInt(aggs[i].Start, 10)
		if len(a[i]) != 16+len(start) || !strings.HasSuffix(a[i], start) || !strings.HasSuffix(b[i], start) {
			t.Errorf("aggregate %d: ids %s, %s: want 16 hex digits and %s", i, a[i], b[i], start)
		}
	}
	// The ids of a writer with no definition are those of the versions
	// before (the EPF1 golden frame's): what EPC1 blocks decode to.
	old, err := os.ReadFile(filepath.Join("testdata", "epf1", "values_json.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ ID string }
	if err := json.Unmarshal(bytes.SplitN(old, []byte("\n"), 2)[0], &v); err != nil {
		t.Fatal(err)
	}
	golden := testenv.CityAggregates(7, 12, 3, 2)
	who := sink.Identity{Gateway: "gw1", Pipeline: "air", Series: testenv.SeriesKey(int(golden[0].Series)),
		Field: []string{"pm25", "temp \"C\""}[golden[0].Field]}
	if got := string(sink.AppendID(nil, &who, golden[0].Start)); got != v.ID {
		t.Errorf("id without a window definition %s, the previous version's %s", got, v.ID)
	}
}

// TestRetractionToKafka writes a session aggregate, its retraction and the
// session under its new id through Writer → Buffer (JetStream) → forwarder
// → kfake, in each output shape, and reads Kafka back.
func TestRetractionToKafka(t *testing.T) {
	const gap = 30_000
	keys, fields := seriesTable(t, 2), []string{"pm25"}
	first := record.Aggregate{Series: 1, Kind: record.Session, Start: 1763683200000, End: 1763683200000 + gap + 5000,
		Count: 3, Sum: 30, Min: 9, Max: 11}
	// A late event at start−20 s merged the session: its old id is
	// retracted (revision 1, its last end) and it lives on under the new
	// start.
	retract := retraction(first, 1)
	moved := first
	moved.Start -= 20_000
	moved.Count, moved.Sum, moved.Min = 4, 38, 8
	aggs := []record.Aggregate{first, retract, moved}
	who := sink.Identity{Gateway: "gw1", Pipeline: "air", Series: testenv.SeriesKey(1), Field: "pm25", Window: testWindow}
	oldID := string(sink.AppendID(nil, &who, first.Start))
	newID := string(sink.AppendID(nil, &who, moved.Start))

	for _, tc := range []struct {
		name   string
		format sink.RecordFormat
		key    sink.RecordKey
	}{{"json series", sink.RecordJSON, sink.KeySeries}, {"json id", sink.RecordJSON, sink.KeyID}, {"compact", sink.RecordCompact, sink.KeySeries}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, sink.BufferOptions{})
			o := sink.WriterOptions{Gateway: "gw1", Pipeline: "air", Topic: "agg.air", Columns: sink.ColSum | sink.ColMin | sink.ColMax,
				Format: tc.format, Key: tc.key, WindowSpec: testWindow}
			if err := o.Validate(); err != nil {
				t.Fatal(err)
			}
			w := sink.NewWriter(r.buf, o, keys, fields, new(sink.WriterStats))
			for i := range aggs {
				if err := w.Add(r.ctx, &aggs[i], 1763683300000); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(r.ctx); err != nil {
				t.Fatal(err)
			}
			r.startForwarder(sink.ForwarderOptions{})
			want := 3
			if tc.format == sink.RecordCompact {
				want = 1
			}
			recs := testenv.Consume(t, r.kfk.ListenAddrs(), "agg.air", want, 20*time.Second)
			if len(recs) != want {
				t.Fatalf("got %d records, want %d", len(recs), want)
			}
			switch tc.format {
			case sink.RecordCompact:
				checkCompactRetraction(t, recs[0], oldID, newID)
			default:
				checkJSONRetraction(t, recs, tc.key, who.Series, oldID, newID)
			}
			r.waitDrained(10 * time.Second)
		})
	}
}

func checkJSONRetraction(t *testing.T, recs []*kgo.Record, key sink.RecordKey, series, oldID, newID string) {
	t.Helper()
	byID := map[string][]*kgo.Record{}
	for _, rec := range recs {
		id := testenv.Header(rec, "id")
		byID[id] = append(byID[id], rec)
		wantKey := series
		if key == sink.KeyID {
			wantKey = id
		}
		if string(rec.Key) != wantKey {
			t.Errorf("record %s: key %q, want %q", id, rec.Key, wantKey)
		}
	}
	if len(byID[oldID]) != 2 || len(byID[newID]) != 1 {
		t.Fatalf("records per id: %d of %s, %d of %s (want 2, 1)", len(byID[oldID]), oldID, len(byID[newID]), newID)
	}
	// Same key, so same partition: the retraction follows the aggregate.
	agg, ret := byID[oldID][0], byID[oldID][1]
	if testenv.Header(agg, "revision") != "0" || testenv.Header(ret, "revision") != "1" {
		t.Errorf("revisions %s then %s, want 0 then 1", testenv.Header(agg, "revision"), testenv.Header(ret, "revision"))
	}
	if aggID(t, agg) != oldID || aggID(t, byID[newID][0]) != newID {
		t.Errorf("aggregate values do not carry their ids")
	}
	if key == sink.KeyID {
		if ret.Value != nil {
			t.Fatalf("retraction keyed by id: value %q, want a tombstone (null)", ret.Value)
		}
		if testenv.Header(ret, "gateway") != "gw1" {
			t.Errorf("tombstone headers %v", ret.Headers)
		}
		return
	}
	var v map[string]any
	if err := json.Unmarshal(ret.Value, &v); err != nil {
		t.Fatalf("retraction value %q: %v", ret.Value, err)
	}
	if v["id"] != oldID || v["retracted"] != true || v["revision"] != 1.0 || v["window"] != "session" || v["series"] != series {
		t.Errorf("retraction value %s", ret.Value)
	}
	if _, ok := v["count"]; ok {
		t.Errorf("retraction carries measurements: %s", ret.Value)
	}
}

func checkCompactRetraction(t *testing.T, rec *kgo.Record, oldID, newID string) {
	t.Helper()
	if testenv.Header(rec, "format") != "compact" || string(rec.Key) != "gw1" {
		t.Errorf("compact record key %q headers %v", rec.Key, rec.Headers)
	}
	var out bytes.Buffer
	if err := compact.WriteJSONLines(&out, rec.Value); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("decoded %d entries, want 3:\n%s", len(lines), out.String())
	}
	type entry struct {
		ID        string
		Revision  uint32
		Retracted bool
		Count     *uint64
	}
	var got []entry
	for _, l := range lines {
		var v entry
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		got = append(got, v)
	}
	if got[0].ID != oldID || got[0].Retracted || got[0].Count == nil || *got[0].Count != 3 {
		t.Errorf("entry 0: %s", lines[0])
	}
	if got[1].ID != oldID || !got[1].Retracted || got[1].Revision != 1 || got[1].Count != nil {
		t.Errorf("entry 1, want the retraction of %s revision 1: %s", oldID, lines[1])
	}
	if got[2].ID != newID || got[2].Retracted || got[2].Count == nil || *got[2].Count != 4 {
		t.Errorf("entry 2: %s", lines[2])
	}
}

// TestEPF1BacklogDrains: a frame written by the version before EPF2 (the
// previous golden frame) still decodes and reaches Kafka unchanged.
func TestEPF1BacklogDrains(t *testing.T) {
	frame, err := os.ReadFile(filepath.Join("testdata", "epf1", "frame_json.bin"))
	if err != nil {
		t.Fatal(err)
	}
	values, err := os.ReadFile(filepath.Join("testdata", "epf1", "values_json.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSuffix(string(values), "\n"), "\n")
	r := newRig(t, sink.BufferOptions{})
	subject := r.buf.Subject("air") + ".agg." + strconv.Itoa(len(want))
	if err := r.buf.Publish(r.ctx, subject, frame, sink.FrameID(frame)); err != nil {
		t.Fatal(err)
	}
	r.startForwarder(sink.ForwarderOptions{})
	recs := testenv.Consume(t, r.kfk.ListenAddrs(), "agg.air", len(want), 20*time.Second)
	if len(recs) != len(want) {
		t.Fatalf("got %d records, want %d", len(recs), len(want))
	}
	got := map[string]bool{}
	for _, rec := range recs {
		got[string(rec.Value)] = true
		if aggID(t, rec) == "" || testenv.Header(rec, "gateway") != "gw1" {
			t.Errorf("record %s headers %v", rec.Value, rec.Headers)
		}
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("missing record %s", w)
		}
	}
	r.waitDrained(10 * time.Second)
	if r.fw.Stats.BadFrames.Load() != 0 {
		t.Errorf("%d bad frames", r.fw.Stats.BadFrames.Load())
	}
}

// TestFrameNullValues: EPF2 tells a null value from an empty one, and
// refuses flags it does not know.
func TestFrameNullValues(t *testing.T) {
	keys, fields := seriesTable(t, 1), []string{"v"}
	a := record.Aggregate{Kind: record.Session, Start: 1000, End: 2000, Count: 1}
	w := sink.NewWriter(nil, sink.WriterOptions{Gateway: "gw1", Pipeline: "p", Topic: "t", Key: sink.KeyID, WindowSpec: testWindow},
		keys, fields, new(sink.WriterStats))
	ret := retraction(a, 1)
	for _, x := range []*record.Aggregate{&a, &ret} {
		if err := w.Add(context.Background(), x, 5); err != nil {
			t.Fatal(err)
		}
	}
	frame := bytes.Clone(w.FrameForTest())
	if string(frame[:4]) != "EPF2" {
		t.Fatalf("magic %q, want EPF2", frame[:4])
	}
	var f sink.Frame
	if err := sink.DecodeFrame(frame, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Records) != 2 || f.Records[0].Null || len(f.Records[0].Value) == 0 || !f.Records[1].Null || f.Records[1].Value != nil ||
		!bytes.Equal(f.Records[1].Key, f.Records[0].Key) || !bytes.Equal(f.Records[1].ID, f.Records[0].Key) || f.Records[1].Revision != 1 {
		t.Fatalf("records %+v", f.Records)
	}
	// The retraction's record is the last bytes: flags, key, value, id,
	// revision, timestamp. Set an unknown flag.
	tail := 1 + 1 + len(f.Records[1].Key) + 1 + 1 + len(f.Records[1].ID) + 1 + 1
	bad := bytes.Clone(frame)
	bad[len(bad)-tail] = 0x02
	if err := sink.DecodeFrame(bad, &f); !errors.Is(err, sink.ErrBadFrame) || !strings.Contains(err.Error(), "flags") {
		t.Errorf("unknown flag: %v", err)
	}
	// An EPF1 frame of series-keyed records stays EPF1.
	w1 := sink.NewWriter(nil, sink.WriterOptions{Gateway: "gw1", Pipeline: "p", Topic: "t", WindowSpec: testWindow},
		keys, fields, new(sink.WriterStats))
	if err := w1.Add(context.Background(), &ret, 5); err != nil {
		t.Fatal(err)
	}
	if p := w1.FrameForTest(); string(p[:4]) != "EPF1" {
		t.Errorf("series-keyed frame magic %q, want EPF1", p[:4])
	}
}

// TestKeyOptions: key names parse, and key: id needs the json format.
func TestKeyOptions(t *testing.T) {
	for _, s := range []string{"series", "id"} {
		k, err := sink.ParseRecordKey(s)
		if err != nil || k.String() != s {
			t.Errorf("%s: %v %v", s, k, err)
		}
	}
	if _, err := sink.ParseRecordKey("window"); err == nil {
		t.Error("key window accepted")
	}
	err := sink.WriterOptions{Topic: "t", Format: sink.RecordCompact, Key: sink.KeyID}.Validate()
	if err == nil || !strings.Contains(err.Error(), "key: id needs format: json") {
		t.Errorf("compact keyed by id: %v", err)
	}
	if err := (sink.WriterOptions{Topic: "t", Key: sink.KeyID}).Validate(); err != nil {
		t.Errorf("json keyed by id: %v", err)
	}
}
