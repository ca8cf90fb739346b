package compact_test

import (
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/sink/compact"
)

// FuzzDecode: any bytes decode or fail with an error, never panic, and a
// value that decodes re-encodes to a block that decodes the same.
func FuzzDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for i, codec := range []compact.Codec{compact.CodecNone, compact.CodecZstd, compact.CodecS2} {
		o := compact.Options{Gateway: "gw", Pipeline: "p", Window: testWindow, Columns: allCols, Codec: codec}
		aggs := testenv.CityAggregates(uint64(i), 20, 4, 2)
		aggs[3] = retraction(aggs[3])
		f.Add(encode(o, aggs, names(4), testenv.FieldNames(2)))
		f.Add(encode(o, randomAggs(r, 5, 3, 2), names(3), testenv.FieldNames(2)))
	}
	f.Add([]byte("EPC1\x00\x00"))
	f.Add([]byte("EPC2\x00\x00"))
	for _, name := range []string{"block_none", "block_zstd", "block_s2"} {
		v, err := os.ReadFile(filepath.Join("testdata", "epc1", name+".bin"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		var b compact.Block
		if err := compact.Decode(v, &b); err != nil {
			return
		}
		_ = compact.WriteJSONLines(io.Discard, v)
		e := compact.NewEncoder(compact.Options{Gateway: b.Gateway, Pipeline: b.Pipeline, Window: b.Window, Columns: b.Columns})
		for i := range b.Aggs {
			id := b.Identity(i)
			e.Add(&b.Aggs[i], id.Series, id.Field)
		}
		var b2 compact.Block
		if err := compact.Decode(e.AppendBlock(nil), &b2); err != nil {
			t.Fatalf("re-encoded block does not decode: %v", err)
		}
		if len(b2.Aggs) != len(b.Aggs) {
			t.Fatalf("re-encoded block has %d aggregates, want %d", len(b2.Aggs), len(b.Aggs))
		}
		for i := range b.Aggs {
			if !sameBits(&b.Aggs[i], &b2.Aggs[i]) && b.Identity(i) == b2.Identity(i) {
				// Series/field ids may be renumbered; compare the rest.
				x, y := b.Aggs[i], b2.Aggs[i]
				x.Series, x.Field, y.Series, y.Field = 0, 0, 0, 0
				if !sameBits(&x, &y) {
					t.Fatalf("aggregate %d changed on re-encode:\n%+v\n%+v", i, b.Aggs[i], b2.Aggs[i])
				}
			}
		}
	})
}
