package pipeline

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/decode"
	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/sink"
)

// BenchmarkTapHook is BenchmarkHotPath's loop (decode → intern → ring →
// window, one goroutine) with no tap attached, the state every gateway is
// in unless someone runs `edgeplane tap`, and with a tap attached that
// matches none of the readings (series glob) or all of them at 100/s:
// what a tap costs the data path while attached.
func BenchmarkTapHook(b *testing.B) {
	for _, mode := range []string{"none", "attached-nomatch", "attached-100/s"} {
		b.Run("tap="+mode, func(b *testing.B) { benchTapHook(b, 10_000, mode) })
	}
}

func benchTapHook(b *testing.B, sensors int, mode string) {
	cfg, err := config.LoadBytes("bench.yaml", []byte(hotCfg), os.LookupEnv)
	if err != nil {
		b.Fatal(err)
	}
	plan := mustCompile(b, cfg)
	p, err := newPipe(plan.Pipelines[0], slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	dec, err := decode.NewDecoder(&plan.Sources[0].Decode)
	if err != nil {
		b.Fatal(err)
	}
	var t *tap
	switch mode {
	case "attached-nomatch":
		t = &tap{f: TapFilter{Series: "nowhere/*", Kinds: tapAllKinds, Rate: 100}, ch: make(chan []byte, tapQueue)}
	case "attached-100/s":
		t = &tap{f: TapFilter{Kinds: tapAllKinds, Rate: 100}, ch: make(chan []byte, tapQueue)}
	}
	if t != nil {
		p.taps.Store(&tapSet{taps: []*tap{t}, kind: t.f.Kinds})
		go func() { // the HTTP side: take what is queued
			for range t.ch {
			}
		}()
		defer close(t.ch)
	}
	topics, payloads := hotInput(sensors)
	var batch decode.Batch
	ctx := context.Background()
	sh := p.shards[0]
	buf := make([]record.Sample, 1024)
	now := time.Now().UnixMilli()
	drain := func() {
		for {
			n := sh.ring.Drain(buf)
			if n == 0 {
				return
			}
			sh.op.Process(buf[:n], now)
		}
	}
	for i := range topics {
		batch.Reset()
		if r, err := dec.Decode(topics[i], payloads[i], now, &batch); r != decode.ReasonNone {
			b.Fatal(err)
		}
		p.deliver(ctx, 0, &batch)
		if i%256 == 255 {
			drain()
		}
	}
	drain()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % len(topics)
		batch.Reset()
		_, _ = dec.Decode(topics[k], payloads[k], now, &batch)
		p.deliver(ctx, 0, &batch)
		if i%256 == 255 {
			drain()
		}
	}
	drain()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/msg")
	if t != nil {
		b.ReportMetric(float64(t.sent.Load()), "tap-events")
	}
}

// TestNoTapNoAllocs: with no tap attached the hook on the data path
// allocates nothing (the whole hot path stays at zero allocations).
func TestNoTapNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates; allocation budgets are checked without -race")
	}
	res := testing.Benchmark(func(b *testing.B) { benchTapHook(b, 10_000, "none") })
	if a := res.AllocsPerOp(); a != 0 {
		t.Fatalf("hot path with no tap allocates %d per message", a)
	}
	res = testing.Benchmark(func(b *testing.B) { benchTapHook(b, 10_000, "attached-nomatch") })
	if a := res.AllocsPerOp(); a != 0 {
		t.Fatalf("hot path with a tap that matches nothing allocates %d per message", a)
	}
}

// BenchmarkShardReader runs the real shard goroutine (shardRun.run, its
// JetStream frame writer on an embedded NATS) fed by the benchmark
// goroutine, without and with a reader polling the read API at 10 Hz (a
// page of 100 series and one series's detail per poll): the reader's cost
// to ingestion, in ns per message until the shard processed everything.
func BenchmarkShardReader(b *testing.B) {
	for _, hz := range []int{0, 10} {
		b.Run(fmt.Sprintf("reader=%dHz", hz), func(b *testing.B) { benchShardReader(b, 10_000, hz) })
	}
}

func benchShardReader(b *testing.B, sensors, hz int) {
	cfg, err := config.LoadBytes("bench.yaml", []byte(hotCfg), os.LookupEnv)
	if err != nil {
		b.Fatal(err)
	}
	plan := mustCompile(b, cfg)
	p, err := newPipe(plan.Pipelines[0], slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	dec, err := decode.NewDecoder(&plan.Sources[0].Decode)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	nc, err := testenv.NATS(b, false).Connect("bench")
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	jb, err := sink.OpenBuffer(ctx, nc, plan.Buffer)
	if err != nil {
		b.Fatal(err)
	}
	sh := p.shards[0]
	sh.w = sink.NewWriter(jb, p.plan.Writer, p.series, p.fields, &p.wstats)
	var wg sync.WaitGroup
	wg.Add(1)
	go sh.run(ctx, &wg)
	processed := func() uint64 {
		st := sh.op.Stats()
		return st.SamplesIn + p.ringDrops.Load()
	}
	topics, payloads := hotInput(sensors)
	var batch decode.Batch
	now := time.Now().UnixMilli()
	var sent uint64
	deliver := func(k int) {
		batch.Reset()
		_, _ = dec.Decode(topics[k], payloads[k], now, &batch)
		sent += uint64(len(batch.Readings))
		p.deliver(ctx, 0, &batch)
	}
	wait := func() {
		for processed() < sent {
			runtime.Gosched()
		}
	}
	for i := range topics {
		deliver(i)
	}
	wait()
	var queries atomic.Uint64
	stop := make(chan struct{})
	var rwg sync.WaitGroup
	if hz > 0 {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			tick := time.NewTicker(time.Second / time.Duration(hz))
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				pg, err := p.seriesPage(ctx, "", "", 100)
				if err != nil || len(pg.Series) != 100 {
					panic(fmt.Sprintf("series page: %v (%d)", err, len(pg.Series)))
				}
				if _, err := p.seriesDetail(ctx, pg.Series[0].Key); err != nil {
					panic(err)
				}
				queries.Add(1)
			}
		}()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		deliver(i % len(topics))
	}
	wait()
	b.StopTimer()
	close(stop)
	rwg.Wait()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/msg")
	b.ReportMetric(float64(queries.Load()), "queries")
	b.ReportMetric(float64(p.ringDrops.Load()), "ring-drops")
	for _, r := range p.rings {
		r.Close()
	}
	wg.Wait()
}

// BenchmarkShardQuery is the time a shard spends answering one query
// between two batches: the list facts of a page of 100 series, or one
// series's detail (its open windows' partial aggregates), 10k series
// with open windows.
func BenchmarkShardQuery(b *testing.B) {
	cfg, err := config.LoadBytes("bench.yaml", []byte(hotCfg), os.LookupEnv)
	if err != nil {
		b.Fatal(err)
	}
	plan := mustCompile(b, cfg)
	p, err := newPipe(plan.Pipelines[0], slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	dec, err := decode.NewDecoder(&plan.Sources[0].Decode)
	if err != nil {
		b.Fatal(err)
	}
	topics, payloads := hotInput(10_000)
	var batch decode.Batch
	sh := p.shards[0]
	buf := make([]record.Sample, 1024)
	now := time.Now().UnixMilli()
	for i := range topics {
		batch.Reset()
		_, _ = dec.Decode(topics[i], payloads[i], now, &batch)
		p.deliver(context.Background(), 0, &batch)
		for n := sh.ring.Drain(buf); n > 0; n = sh.ring.Drain(buf) {
			sh.in.track(buf[:n], now)
			sh.op.Process(buf[:n], now)
		}
	}
	ids := make([]uint32, 100)
	for i := range ids {
		ids[i] = uint32(i * 97)
	}
	out := make([]seriesState, len(ids))
	b.Run("page=100", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			clear(out)
			sh.seriesInfo(ids, false, out)
		}
		if out[0].openWindows != 4 {
			b.Fatalf("%d open windows", out[0].openWindows)
		}
	})
	b.Run("detail", func(b *testing.B) {
		b.ReportAllocs()
		one := make([]seriesState, 1)
		for i := 0; i < b.N; i++ {
			one[0] = seriesState{}
			sh.seriesInfo(ids[:1], true, one)
		}
		if len(one[0].open) != 4 {
			b.Fatalf("%d partials", len(one[0].open))
		}
	})
}

// BenchmarkTrack is the per-batch pass that records each series's latest
// event time and arrival for the API, on full 1024-sample batches over 10k
// series (four readings a message, as in BenchmarkHotPath): its cost per
// sample.
func BenchmarkTrack(b *testing.B) {
	var in inspector
	in.init(20_000, 1)
	batch := make([]record.Sample, 1024)
	for i := range batch {
		batch[i] = record.Sample{Series: uint32(i / 4 * 7919 % 10_000), Field: uint16(i % 4), Time: int64(i)}
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		in.track(batch, int64(i))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(batch)), "ns/sample")
}
