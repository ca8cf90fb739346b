package compact_test

import (
	"bytes"
	"errors"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/sink/compact"
	"github.com/edgeplane/edgeplane/sink/internal/aggenc"
)

var update = flag.Bool("update", false, "rewrite golden files")

const allCols = aggenc.ColSum | aggenc.ColMin | aggenc.ColMax | aggenc.ColMean | aggenc.ColFirst |
	aggenc.ColLast | aggenc.ColVariance | aggenc.ColStddev | aggenc.ColRate | aggenc.ColQuantiles

func encode(o compact.Options, aggs []record.Aggregate, series, fields []string) []byte {
	e := compact.NewEncoder(o)
	for i := range aggs {
		e.Add(&aggs[i], series[aggs[i].Series], fields[aggs[i].Field])
	}
	return e.AppendBlock(nil)
}

func names(nSeries int) []string {
	s := make([]string, nSeries)
	for i := range s {
		s[i] = testenv.SeriesKey(i)
	}
	return s
}

// wantJSON renders aggs the way the json format does.
func wantJSON(o compact.Options, aggs []record.Aggregate, series, fields []string) []byte {
	var out, id []byte
	for i := range aggs {
		who := aggenc.Identity{Gateway: o.Gateway, Pipeline: o.Pipeline, Series: series[aggs[i].Series], Field: fields[aggs[i].Field], Window: o.Window}
		id = aggenc.AppendID(id[:0], &who, aggs[i].Start)
		out = aggenc.AppendJSON(out, &aggs[i], id, &who, o.Columns)
		out = append(out, '\n')
	}
	return out
}

// carried zeroes what a block with cols does not carry, and renumbers
// series and field ids as the block's tables do (order of first use).
func carried(in []record.Aggregate, cols aggenc.Columns, b *compact.Block, series, fields []string) []record.Aggregate {
	out := make([]record.Aggregate, len(in))
	for i, a := range in {
		c := record.Aggregate{Series: b.SeriesIdx[i], Field: uint16(b.FieldIdx[i]), Kind: a.Kind, Flags: a.Flags,
			Revision: a.Revision, Late: a.Late, Start: a.Start, End: a.End, Count: a.Count}
		if b.Series[c.Series] != series[a.Series] || b.Fields[c.Field] != fields[a.Field] {
			panic("name table mismatch")
		}
		if cols&(aggenc.ColSum|aggenc.ColMean) != 0 {
			c.Sum = a.Sum
		}
		if cols&aggenc.ColMin != 0 {
			c.Min = a.Min
		}
		if cols&aggenc.ColMax != 0 {
			c.Max = a.Max
		}
		if cols&aggenc.ColFirst != 0 {
			c.First, c.FirstTime = a.First, a.FirstTime
		}
		if cols&aggenc.ColLast != 0 {
			c.Last, c.LastTime = a.Last, a.LastTime
		}
		if cols&(aggenc.ColVariance|aggenc.ColStddev) != 0 {
			c.M2 = a.M2
		}
		if cols&aggenc.ColRate != 0 {
			c.Rate, c.Increase = a.Rate, a.Increase
		}
		if cols&aggenc.ColQuantiles != 0 {
			c.NQ = a.NQ
			copy(c.Q[:a.NQ], a.Q[:a.NQ])
			copy(c.QV[:a.NQ], a.QV[:a.NQ])
		}
		out[i] = c
	}
	return out
}

// sameBits compares aggregates with floats bit for bit (NaN == NaN).
func sameBits(a, b *record.Aggregate) bool {
	fa := []float64{a.Sum, a.Min, a.Max, a.First, a.Last, a.WMean, a.M2, a.Rate, a.Increase}
	fb := []float64{b.Sum, b.Min, b.Max, b.First, b.Last, b.WMean, b.M2, b.Rate, b.Increase}
	fa, fb = append(fa, a.Q[:]...), append(fb, b.Q[:]...)
	fa, fb = append(fa, a.QV[:]...), append(fb, b.QV[:]...)
	for i := range fa {
		if math.Float64bits(fa[i]) != math.Float64bits(fb[i]) {
			return false
		}
	}
	x, y := *a, *b
	x.Sum, x.Min, x.Max, x.First, x.Last, x.WMean, x.M2, x.Rate, x.Increase, x.Q, x.QV = 0, 0, 0, 0, 0, 0, 0, 0, 0, [8]float64{}, [8]float64{}
	y.Sum, y.Min, y.Max, y.First, y.Last, y.WMean, y.M2, y.Rate, y.Increase, y.Q, y.QV = 0, 0, 0, 0, 0, 0, 0, 0, 0, [8]float64{}, [8]float64{}
	return x == y
}

// randomAggs makes adversarial aggregates: any floats (NaN, ±Inf, -0,
// subnormals, decimals), any times, any counts.
func randomAggs(r *rand.Rand, n, nSeries, nFields int) []record.Aggregate {
	f := func() float64 {
		switch r.IntN(8) {
		case 0:
			return []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 0, math.SmallestNonzeroFloat64, math.MaxFloat64}[r.IntN(7)]
		case 1, 2:
			return math.Round(r.NormFloat64()*1e4) / 100
		case 3:
			return float64(r.IntN(1000))
		default:
			return math.Float64frombits(r.Uint64())
		}
	}
	t := func() int64 {
		if r.IntN(4) == 0 {
			return int64(r.Uint64())
		}
		return 1763683200000 + r.Int64N(1e9)
	}
	out := make([]record.Aggregate, n)
	for i := range out {
		a := &out[i]
		a.Series, a.Field = uint32(r.IntN(nSeries)), uint16(r.IntN(nFields))
		a.Kind, a.Flags = record.WindowKind(r.IntN(3)), uint8(r.IntN(256))
		a.Revision, a.Late = r.Uint32(), r.Uint32()>>uint(r.IntN(32))
		a.Start, a.End = t(), t()
		a.Count = r.Uint64() >> uint(r.IntN(64))
		a.Sum, a.Min, a.Max, a.First, a.Last, a.M2, a.Rate, a.Increase = f(), f(), f(), f(), f(), f(), f(), f()
		a.FirstTime, a.LastTime = t(), t()
		a.NQ = uint8(r.IntN(record.MaxQuantiles + 1))
		for q := 0; q < int(a.NQ); q++ {
			a.Q[q], a.QV[q] = []float64{0.5, 0.9, 0.99, 0.999}[r.IntN(4)], f()
		}
	}
	return out
}

// TestRoundTrip is the property: decode(encode(aggs)) carries every
// selected field bit for bit and renders the same JSON as the json format,
// for random column sets, codecs and adversarial values.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var b compact.Block
	for iter := 0; iter < 300; iter++ {
		nSeries, nFields := 1+r.IntN(50), 1+r.IntN(4)
		var aggs []record.Aggregate
		if iter%2 == 0 {
			aggs = randomAggs(r, r.IntN(300), nSeries, nFields)
		} else {
			aggs = testenv.CityAggregates(uint64(iter), r.IntN(600), nSeries, nFields)
		}
		o := compact.Options{Gateway: "gw-\"1\"", Pipeline: "air", Columns: aggenc.Columns(r.Uint32()) & allCols, Codec: compact.Codec(r.IntN(3))}
		if iter%3 != 0 {
			o.Window = "v1 session size=0 advance=0 gap=" + strconv.Itoa(iter) + " offset=0 lateness=0 emit=update"
		}
		series, fields := names(nSeries), testenv.FieldNames(nFields)
		v := encode(o, aggs, series, fields)
		if err := compact.Decode(v, &b); err != nil {
			t.Fatalf("iter %d: decode: %v", iter, err)
		}
		if b.Gateway != o.Gateway || b.Pipeline != o.Pipeline || b.Window != o.Window || b.Columns != o.Columns || len(b.Aggs) != len(aggs) {
			t.Fatalf("iter %d: header %q %q %q %v %d", iter, b.Gateway, b.Pipeline, b.Window, b.Columns, len(b.Aggs))
		}
		want := carried(aggs, o.Columns, &b, series, fields)
		for i := range want {
			if !sameBits(&want[i], &b.Aggs[i]) {
				t.Fatalf("iter %d aggregate %d:\n got %+v\nwant %+v", iter, i, b.Aggs[i], want[i])
			}
		}
		if got, want := b.AppendJSONLines(nil), wantJSON(o, aggs, series, fields); !bytes.Equal(got, want) {
			t.Fatalf("iter %d: json lines differ:\n got %.300s\nwant %.300s", iter, got, want)
		}
	}
}

func TestGolden(t *testing.T) {
	aggs := testenv.CityAggregates(7, 24, 6, 2)
	aggs[3].Revision, aggs[3].Late, aggs[3].Flags = 2, 3, record.AggFinal
	aggs[5].NQ, aggs[5].Q[0], aggs[5].QV[0], aggs[5].Q[1], aggs[5].QV[1] = 2, 0.5, 17.5, 0.99, 31.25
	aggs[7].Sum = math.NaN()
	aggs[9] = retraction(aggs[9])
	series, fields := names(6), testenv.FieldNames(2)
	cols := aggenc.ColSum | aggenc.ColMin | aggenc.ColMax | aggenc.ColMean | aggenc.ColLast | aggenc.ColStddev | aggenc.ColQuantiles
	f := func(name string, codec compact.Codec) {
		t.Helper()
		o := compact.Options{Gateway: "gw1", Pipeline: "air", Window: testWindow, Columns: cols, Codec: codec}
		v := encode(o, aggs, series, fields)
		var lines bytes.Buffer
		if err := compact.WriteJSONLines(&lines, v); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(lines.Bytes(), wantJSON(o, aggs, series, fields)) {
			t.Errorf("%s: json lines differ from the json format", name)
		}
		golden(t, name+".bin", v)
		golden(t, name+".jsonl", lines.Bytes())
	}
	f("block_none", compact.CodecNone)
	f("block_zstd", compact.CodecZstd)
	f("block_s2", compact.CodecS2)
}

// testWindow is a window definition as operators.Config.Spec writes it.
const testWindow = "v1 session size=0 advance=0 gap=30000 offset=0 lateness=0 emit=update"

// retraction turns a into the retraction of its id: a session whose start
// moved, revision + 1, no values.
func retraction(a record.Aggregate) record.Aggregate {
	return record.Aggregate{Series: a.Series, Field: a.Field, Kind: record.Session, Flags: record.AggRetracted,
		Revision: a.Revision + 1, Start: a.Start, End: a.End}
}

// TestRetraction: a retraction entry survives the block and prints as the
// json format's retraction, under the id of its start.
func TestRetraction(t *testing.T) {
	aggs := testenv.CityAggregates(3, 4, 2, 1)
	for i := range aggs {
		aggs[i].Kind = record.Session
	}
	aggs[1] = retraction(aggs[0])
	aggs[1].Revision = 3
	series, fields := names(2), testenv.FieldNames(1)
	o := compact.Options{Gateway: "gw1", Pipeline: "air", Window: testWindow, Columns: allCols, Codec: compact.CodecZstd}
	var lines bytes.Buffer
	if err := compact.WriteJSONLines(&lines, encode(o, aggs, series, fields)); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(lines.String(), "\n"), "\n")
	if len(got) != len(aggs) {
		t.Fatalf("%d lines, want %d:\n%s", len(got), len(aggs), lines.String())
	}
	who := aggenc.Identity{Gateway: "gw1", Pipeline: "air", Series: series[aggs[0].Series], Field: fields[0], Window: testWindow}
	id := string(aggenc.AppendID(nil, &who, aggs[0].Start))
	want := `{"id":"` + id + `","gateway":"gw1","pipeline":"air","series":"` + who.Series + `","field":"` + who.Field +
		`","window":"session","start":` + strconv.FormatInt(aggs[0].Start, 10) + `,"end":` + strconv.FormatInt(aggs[0].End, 10) +
		`,"revision":3,"retracted":true,"schema":1}`
	if got[1] != want {
		t.Errorf("retraction line\n got %s\nwant %s", got[1], want)
	}
	if !strings.HasPrefix(got[0], `{"id":"`+id+`"`) || strings.Contains(got[0], "retracted") {
		t.Errorf("aggregate line %s: want id %s and no retraction", got[0], id)
	}
}

// TestDecodeV1: blocks of the previous format (EPC1: no window string)
// still decode, to the JSON lines (and ids) they decoded to then.
func TestDecodeV1(t *testing.T) {
	for _, name := range []string{"block_none", "block_zstd", "block_s2"} {
		v, err := os.ReadFile(filepath.Join("testdata", "epc1", name+".bin"))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("testdata", "epc1", name+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if string(v[:4]) != compact.MagicV1 {
			t.Fatalf("%s: magic %q, want %q", name, v[:4], compact.MagicV1)
		}
		var lines bytes.Buffer
		if err := compact.WriteJSONLines(&lines, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(lines.Bytes(), want) {
			t.Errorf("%s: json lines differ from what EPC1 decoded to", name)
		}
		var b compact.Block
		if err := compact.Decode(v, &b); err != nil || b.Window != "" || len(b.Aggs) != 24 {
			t.Errorf("%s: %v, window %q, %d aggregates", name, err, b.Window, len(b.Aggs))
		}
	}
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
		t.Errorf("%s: output differs from golden file (%d vs %d bytes); run with -update if intended", path, len(got), len(want))
	}
}

// TestDecodeErrors: bad input fails with an error naming the problem.
func TestDecodeErrors(t *testing.T) {
	o := compact.Options{Gateway: "gw1", Pipeline: "air", Columns: aggenc.ColSum | aggenc.ColMin}
	good := encode(o, testenv.CityAggregates(1, 10, 3, 1), names(3), testenv.FieldNames(1))
	var b compact.Block
	f := func(name string, v []byte, target error, substr string) {
		t.Helper()
		err := compact.Decode(v, &b)
		if err == nil || !errors.Is(err, target) || !strings.Contains(err.Error(), substr) {
			t.Errorf("%s: got %v, want %v containing %q", name, err, target, substr)
		}
	}
	f("empty", nil, compact.ErrCorrupt, "magic")
	f("json", []byte(`{"id":1}`), compact.ErrCorrupt, "magic")
	f("future", append([]byte("EPC9"), good[4:]...), compact.ErrUnsupported, "EPC9")
	f("codec", append(append([]byte("EPC1"), 7), good[5:]...), compact.ErrUnsupported, "codec 7")
	f("truncated", good[:len(good)-3], compact.ErrCorrupt, "header says")
	huge := append([]byte("EPC1\x00"), 0xff, 0xff, 0xff, 0xff, 0x0f)
	f("bomb", huge, compact.ErrCorrupt, "exceeds")
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 0xff
	if err := compact.Decode(bad, &b); err == nil {
		// A flipped last byte may still decode (it is a value); the
		// trailing byte check must catch an extra one.
		bad = append(bad, 0)
		f("trailing", bad, compact.ErrCorrupt, "")
	}
	zst := encode(compact.Options{Gateway: "g", Columns: aggenc.ColSum, Codec: compact.CodecZstd}, testenv.CityAggregates(1, 10, 3, 1), names(3), testenv.FieldNames(1))
	zst[len(zst)-2] ^= 0x55
	f("zstd", zst, compact.ErrCorrupt, "")
}

func TestEmptyBlock(t *testing.T) {
	v := compact.NewEncoder(compact.Options{Gateway: "g", Codec: compact.CodecZstd}).AppendBlock(nil)
	var b compact.Block
	if err := compact.Decode(v, &b); err != nil || len(b.Aggs) != 0 {
		t.Fatalf("empty block: %v, %d aggregates", err, len(b.Aggs))
	}
}
