package sink

import (
	"bytes"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestZstdCompressor: batches compress to zstd frames any zstd decoder
// reads back (the consumer side of the sink tests reads them through
// franz-go); a broker too old for zstd gets the batch as it is. The same
// pooled buffer serves batch after batch.
func TestZstdCompressor(t *testing.T) {
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var c kgo.Compressor = zstdCompressor{}
	dst := new(bytes.Buffer)
	for _, n := range []int{0, 1, 100, 64 << 10, 300 << 10} {
		src := bytes.Repeat([]byte(`{"series":"city/d7/air/s-1","field":"pm25","mean":12.5}`), n/50+1)[:n]
		out, codec := c.Compress(dst, src)
		if codec != kgo.CodecZstd {
			t.Fatalf("%d bytes: codec %v, want zstd", n, codec)
		}
		got, err := dec.DecodeAll(out, nil)
		if err != nil || !bytes.Equal(got, src) {
			t.Fatalf("%d bytes: round trip: %v (got %d bytes)", n, err, len(got))
		}
		if n >= 64<<10 && len(out) > n/10 {
			t.Errorf("%d repetitive bytes compressed to %d", n, len(out))
		}
	}
	src := []byte("batch")
	if out, codec := c.Compress(dst, src, kgo.CompressDisableZstd); codec != kgo.CodecNone || !bytes.Equal(out, src) {
		t.Fatalf("zstd disabled: codec %v, %q", codec, out)
	}
}
