package sink_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/natsd"
	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/sink"
)

// Benchmarks use a smart-city shape (testenv.CityAggregates): 500 series
// × 2 fields, one-minute windows, count/sum/min/max/mean, 512 aggregates
// per frame.
const (
	benchSeries = 500
	benchFields = 2
	benchCols   = sink.ColSum | sink.ColMin | sink.ColMax | sink.ColMean
)

var benchSink []byte

func benchAggs(n int) []record.Aggregate {
	return testenv.CityAggregates(1, n, benchSeries, benchFields)
}

// BenchmarkWriterAdd is the per-aggregate cost of encoding into a frame.
func BenchmarkWriterAdd(b *testing.B) {
	for _, out := range []struct {
		name   string
		format sink.RecordFormat
		key    sink.RecordKey
	}{{"json", sink.RecordJSON, sink.KeySeries}, {"compact", sink.RecordCompact, sink.KeySeries}, {"json_key_id", sink.RecordJSON, sink.KeyID}} {
		b.Run(out.name, func(b *testing.B) {
			keys, fields := seriesTable(b, benchSeries), testenv.FieldNames(benchFields)
			aggs := benchAggs(4096)
			w := sink.NewWriter(nil, sink.WriterOptions{Gateway: "gw1", Pipeline: "air", Topic: "t", Columns: benchCols,
				Format: out.format, Key: out.key, WindowSpec: testWindow, MaxRecords: 1 << 30, MaxBytes: 1 << 30},
				keys, fields, new(sink.WriterStats))
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%len(aggs) == 0 {
					// Keep the frame bounded without a Buffer; the block is
					// encoded (compact) as a Flush would.
					benchSink = w.FrameForTest()
					w.ResetForTest()
				}
				_ = w.Add(ctx, &aggs[i%len(aggs)], 1)
			}
		})
	}
}

// BenchmarkUplinkBytes reports the bytes per aggregate a Kafka produce
// carries (record batch: 61-byte header + v2 records, compressed as the
// producer would), per format. One op is one frame of 512 aggregates.
func BenchmarkUplinkBytes(b *testing.B) {
	const perFrame = 512
	keys, fields := seriesTable(b, benchSeries), testenv.FieldNames(benchFields)
	aggs := benchAggs(perFrame * 8)
	zenc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	type variant struct {
		name, batchCodec string
		format           sink.RecordFormat
		compression      string
	}
	for _, v := range []variant{
		{"json/none", "none", sink.RecordJSON, ""},
		{"json/snappy", "s2", sink.RecordJSON, ""},
		{"json/zstd", "zstd", sink.RecordJSON, ""},
		{"compact-s2/none", "none", sink.RecordCompact, "s2"},
		{"compact-zstd/none", "none", sink.RecordCompact, "zstd"},
	} {
		b.Run(v.name, func(b *testing.B) {
			w := sink.NewWriter(nil, sink.WriterOptions{Gateway: "gw1", Pipeline: "air", Topic: "agg.air", Columns: benchCols,
				Format: v.format, Compression: v.compression, MaxRecords: 1 << 30, MaxBytes: 1 << 30}, keys, fields, new(sink.WriterStats))
			var total, n int
			var recs, out []byte
			var frame sink.Frame
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				base := (i % 8) * perFrame
				for j := base; j < base+perFrame; j++ {
					_ = w.Add(context.Background(), &aggs[j], 1763683260000)
				}
				if err := sink.DecodeFrame(w.FrameForTest(), &frame); err != nil {
					b.Fatal(err)
				}
				recs = recs[:0]
				for k, r := range frame.Records {
					kr := kmsg.Record{OffsetDelta: int32(k), Key: r.Key, Value: r.Value}
					for _, h := range frame.Headers {
						kr.Headers = append(kr.Headers, kmsg.Header{Key: string(h.Key), Value: h.Value})
					}
					kr.Headers = append(kr.Headers, kmsg.Header{Key: "id", Value: r.ID},
						kmsg.Header{Key: "revision", Value: strconv.AppendUint(nil, r.Revision, 10)})
					kr.Length = int32(len(kr.AppendTo(nil)) - 1)
					recs = kr.AppendTo(recs)
				}
				switch v.batchCodec {
				case "zstd":
					out = zenc.EncodeAll(recs, out[:0])
				case "s2":
					out = s2.EncodeSnappy(out[:0], recs)
				default:
					out = recs
				}
				total += 61 + len(out)
				n += perFrame
				w.ResetForTest()
			}
			b.ReportMetric(float64(total)/float64(n), "uplink-B/agg")
		})
	}
}

// BenchmarkPublish measures aggregates/s through Writer → JetStream
// (file storage, wait for every frame's ack) and the bytes stored per
// aggregate, for each format, with the server's default sync (every 2
// min) and with sync always (fsync per write).
func BenchmarkPublish(b *testing.B) {
	for _, sync := range []bool{false, true} {
		for _, format := range []sink.RecordFormat{sink.RecordJSON, sink.RecordCompact} {
			name := fmt.Sprintf("%s/sync=%s", format, map[bool]string{false: "default", true: "always"}[sync])
			b.Run(name, func(b *testing.B) {
				ns, err := natsd.Start(natsd.Options{StoreDir: b.TempDir(), SyncAlways: sync})
				if err != nil {
					b.Fatal(err)
				}
				defer ns.Shutdown()
				nc, err := ns.Connect("bench")
				if err != nil {
					b.Fatal(err)
				}
				defer nc.Close()
				ctx := context.Background()
				buf, err := sink.OpenBuffer(ctx, nc, sink.BufferOptions{})
				if err != nil {
					b.Fatal(err)
				}
				keys, fields := seriesTable(b, benchSeries), testenv.FieldNames(benchFields)
				aggs := benchAggs(benchSeries * benchFields)
				var ws sink.WriterStats
				w := sink.NewWriter(buf, sink.WriterOptions{Gateway: "gw1", Pipeline: "air", Topic: "agg.air", Columns: benchCols, Format: format},
					keys, fields, &ws)
				b.ReportAllocs()
				start := time.Now()
				for i := 0; b.Loop(); i++ {
					a := aggs[i%len(aggs)]
					a.Start += int64(i/len(aggs)) * 60_000 // a new window per round
					if err := w.Add(ctx, &a, 1); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Flush(ctx); err != nil {
					b.Fatal(err)
				}
				el := time.Since(start)
				st, err := buf.State(ctx)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(ws.Aggregates.Load())/el.Seconds(), "agg/s")
				b.ReportMetric(float64(st.Bytes)/float64(st.Aggregates), "disk-B/agg")
			})
		}
	}
}

// BenchmarkDrain measures how fast the forwarder drains a backlog of b.N
// aggregates from JetStream to kfake (in-process Kafka, acks=all,
// idempotent, zstd).
func BenchmarkDrain(b *testing.B) {
	for _, format := range []sink.RecordFormat{sink.RecordJSON, sink.RecordCompact} {
		b.Run(format.String(), func(b *testing.B) {
			r := newRig(b, sink.BufferOptions{})
			keys, fields := seriesTable(b, benchSeries), testenv.FieldNames(benchFields)
			aggs := benchAggs(benchSeries * benchFields)
			w := sink.NewWriter(r.buf, sink.WriterOptions{Gateway: "gw1", Pipeline: "air", Topic: "agg.air", Columns: benchCols, Format: format},
				keys, fields, new(sink.WriterStats))
			n := max(b.N, 10000)
			for i := 0; i < n; i++ {
				a := aggs[i%len(aggs)]
				a.Start += int64(i/len(aggs)) * 60_000
				if err := w.Add(r.ctx, &a, 1); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Flush(r.ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			r.startForwarder(sink.ForwarderOptions{})
			r.waitDrained(5 * time.Minute)
			el := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(n)/el.Seconds(), "agg/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
