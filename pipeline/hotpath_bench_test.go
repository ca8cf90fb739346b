package pipeline

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/decode"

	"github.com/valyala/fastjson"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/record"
)

const hotCfg = `
gateway: {id: bench}
kafka: {brokers: ["127.0.0.1:9"]}
sources:
  - name: air
    mqtt: {broker: "tcp://127.0.0.1:1883", topics: ["city/+/air/+"]}
    decode:
      topic_pattern: "city/{district}/{type}/{id}"
      key: "{district}/{id}"
      time_path: ts
      time_unit: ms
      max_time_skew: "0"
      fields: [{name: pm25}, {name: pm10}, {name: temp}, {name: hum}]
pipelines:
  - name: air
    from: [air]
    window: {type: tumbling, size: 1h}
    max_series: 20000
    ring: {capacity: 8192}
`

// hotInput is 10k sensors' messages in the PAYLOADS.md generic JSON shape,
// with readings that vary as real ones do: in value, in length and in
// whether they have a fraction.
func hotInput(n int) (topics []string, payloads [][]byte) {
	for i := 0; i < n; i++ {
		topics = append(topics, fmt.Sprintf("city/d%d/air/s-%d", i%9, i))
		pm25 := float64(i*37%1500) / 10    // 0 … 149.9
		pm10 := float64(i*53%3000) / 10    // 0 … 299.9
		temp := float64(i*13%500-100) / 10 // -10 … 39.9
		hum := float64(i*7%800+200) / 10   // 20 … 99.9
		payloads = append(payloads, []byte(fmt.Sprintf(
			`{"id":"s-%d","ts":%d,"pm25":%s,"pm10":%s,"temp":%s,"hum":%s}`, i, 1763683200123+int64(i),
			ff(pm25), ff(pm10), ff(temp), ff(hum))))
	}
	return
}

func ff(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// hotSensors are the sensor counts the hot path is measured at: a few
// whose state stays in cache, and a district's worth whose series index,
// window state and payloads do not.
var hotSensors = []int{100, 10_000}

// BenchmarkHotPath is decode → intern → ring → tumbling window for one
// message of four readings, on one goroutine (the ring is drained every
// 256 messages), cycling through the messages of n sensors. Compare with
// BenchmarkBareParse of the same payloads.
func BenchmarkHotPath(b *testing.B) {
	for _, n := range hotSensors {
		b.Run(fmt.Sprintf("sensors=%d", n), func(b *testing.B) { benchHotPath(b, n) })
	}
}

func benchHotPath(b *testing.B, sensors int) {
	cfg, err := config.LoadBytes("bench.yaml", []byte(hotCfg), os.LookupEnv)
	if err != nil {
		b.Fatal(err)
	}
	p, err := newPipe(mustCompile(b, cfg).Pipelines[0], slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	dec, err := decode.NewDecoder(&mustCompile(b, cfg).Sources[0].Decode)
	if err != nil {
		b.Fatal(err)
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
	// Warm up: every series interned, every window open.
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
	b.SetBytes(int64(len(payloads[0])))
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
	if st := sh.op.Stats(); st.SamplesIn == 0 {
		b.Fatal("no samples reached the window")
	}
}

// BenchmarkBareParse is fastjson parsing alone of the same payloads: the
// floor the hot path is compared with.
func BenchmarkBareParse(b *testing.B) {
	for _, n := range hotSensors {
		b.Run(fmt.Sprintf("sensors=%d", n), func(b *testing.B) { benchBareParse(b, n) })
	}
}

func benchBareParse(b *testing.B, sensors int) {
	_, payloads := hotInput(sensors)
	var p fastjson.Parser
	b.ReportAllocs()
	b.SetBytes(int64(len(payloads[0])))
	for i := 0; i < b.N; i++ {
		if _, err := p.ParseBytes(payloads[i%len(payloads)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/msg")
}

// TestHotPathAllocs: the steady-state path from payload to window state
// allocates nothing.
func TestHotPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates; allocation budgets are checked without -race")
	}
	res := testing.Benchmark(func(b *testing.B) { benchHotPath(b, 10_000) })
	if a := res.AllocsPerOp(); a != 0 {
		t.Fatalf("hot path allocates %d per message", a)
	}
}
