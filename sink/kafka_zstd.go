package sink

import (
	"bytes"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kgo"
)

// zstdCompressor compresses produce batches with zstd at level 1, as
// franz-go's own compressor does with kgo.ZstdCompression().WithLevel(1),
// with the same 64 KiB window, but in less memory:
//
//   - franz-go's encoders live in a sync.Pool, so they are dropped at the
//     second collection without a produce in between and built again
//     (with GOGC 50 and a few collections a second under load, often);
//     here one encoder with two block encoders, shared by every client,
//     lives as long as the process.
//   - Each of franz-go's encoders keeps at least 1 MiB of history; with
//     the encoder's low-memory option the history is the window and a
//     block (192 KiB).
//
// A broker too old for zstd (kgo.CompressDisableZstd) gets the batch
// uncompressed, as franz-go's compressor does when zstd is the only codec
// configured.
type zstdCompressor struct{}

// kafkaZstdEncoder is shared by every client: EncodeAll is safe for
// concurrent use, up to two at once, more wait.
var kafkaZstdEncoder = sync.OnceValue(func() *zstd.Encoder {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithWindowSize(64<<10),
		zstd.WithEncoderConcurrency(2),
		zstd.WithZeroFrames(true),
		zstd.WithLowerEncoderMem(true))
	if err != nil {
		panic("sink: zstd encoder: " + err.Error()) // options are constant
	}
	return enc
})

// Compress implements kgo.Compressor. The batch is encoded into dst's
// storage (dst is pooled by the client, and the result is used before dst
// is reused; its length is left stale, as franz-go's compressor leaves it).
func (zstdCompressor) Compress(dst *bytes.Buffer, src []byte, flags ...kgo.CompressFlag) ([]byte, kgo.CompressionCodecType) {
	for _, f := range flags {
		if f == kgo.CompressDisableZstd {
			return src, kgo.CodecNone
		}
	}
	enc := kafkaZstdEncoder()
	dst.Reset()
	if n := enc.MaxEncodedSize(len(src)); n > dst.Cap() {
		dst.Grow(n)
	}
	return enc.EncodeAll(src, dst.Bytes()), kgo.CodecZstd
}
