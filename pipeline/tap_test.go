package pipeline_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/pipeline"
)

// tapStream is an attached tap: its events as they arrive.
type tapStream struct {
	mu     sync.Mutex
	events []map[string]any
	raw    [][]byte
	first  time.Time
}

func (s *tapStream) snapshot() ([]map[string]any, [][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.events...), append([][]byte(nil), s.raw...)
}

// openTap GETs url and reads its NDJSON lines until the test ends.
func openTap(t *testing.T, url string) *tapStream {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("GET %s: %s %s", url, resp.Status, resp.Header.Get("Content-Type"))
	}
	t.Cleanup(func() { resp.Body.Close() })
	s := &tapStream{first: time.Now()}
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var e map[string]any
			if json.Unmarshal(sc.Bytes(), &e) != nil {
				continue
			}
			s.mu.Lock()
			s.events = append(s.events, e)
			s.raw = append(s.raw, append([]byte(nil), sc.Bytes()...))
			s.mu.Unlock()
		}
	}()
	return s
}

// TestTapUnderLoad: two taps on a gateway under load. One, filtered to
// pipeline air10 and aggregates, sees every aggregate air10 emits, each
// byte for byte as it arrives in Kafka, and none of air5's. The other,
// on readings at 20/s, never gets more than its rate allows and reports
// what its limit held back.
func TestTapUnderLoad(t *testing.T) {
	g, brokers := startAPIGateway(t, "")
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	aggs := openTap(t, srv.URL+"/v1/tap?pipeline=air10&kind=aggregate&rate=1000")
	const rate = 20
	reads := openTap(t, srv.URL+fmt.Sprintf("/v1/tap?kind=reading&rate=%d", rate))
	// Unknown pipeline, bad kind: JSON errors.
	for q, code := range map[string]int{"pipeline=nope": 404, "kind=bogus": 400, "rate=0": 400, "format=xml": 400} {
		resp, err := http.Get(srv.URL + "/v1/tap?" + q)
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != code || e.Error == "" {
			t.Fatalf("%s: %d %q, want %d", q, resp.StatusCode, e.Error, code)
		}
	}

	pub := mqttPublisher(t, g.MQTTAddr())
	t0 := time.Now().Add(-time.Hour).UnixMilli() / 10_000 * 10_000
	const nSeries, nWindows = 30, 4
	start := time.Now()
	for w := range nWindows {
		for i := range nSeries {
			var b strings.Builder
			b.WriteByte('[')
			for k := range 10 {
				if k > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `{"ts":%d,"pm25":%d}`, t0+int64(w)*10_000+int64(k)*1000, i+k)
			}
			b.WriteByte(']')
			publish(t, pub, fmt.Sprintf("city/d1/air/s%02d", i), b.String())
		}
	}
	publish(t, pub, "city/d1/air/s00", fmt.Sprintf(`{"ts":%d,"pm25":1}`, t0+int64(nWindows+2)*10_000))
	const want = nSeries * nWindows // air10's windows
	testenv.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		ev, _ := aggs.snapshot()
		n := 0
		for _, e := range ev {
			if e["kind"] == "aggregate" {
				n++
			}
		}
		if n < want {
			return fmt.Errorf("tap saw %d aggregates, want %d", n, want)
		}
		return nil
	})
	ev, raw := aggs.snapshot()
	seen := map[string]string{} // id → aggregate JSON
	for i, e := range ev {
		switch e["kind"] {
		case "aggregate":
			if e["pipeline"] != "air10" {
				t.Fatalf("tap filtered to air10 got %s", raw[i])
			}
			var line struct{ Aggregate json.RawMessage }
			_ = json.Unmarshal(raw[i], &line)
			a := e["aggregate"].(map[string]any)
			seen[a["id"].(string)] = string(line.Aggregate)
		case "tap_stats":
		default:
			t.Fatalf("tap filtered to aggregates got %s", raw[i])
		}
	}
	if len(seen) != want {
		t.Fatalf("%d distinct aggregates on the tap, want %d", len(seen), want)
	}
	testenv.ConsumeUntil(t, brokers, "test.api", 30*time.Second, func(rs []*kgo.Record) bool {
		found := 0
		for _, r := range rs {
			if v, ok := seen[testenv.Header(r, "id")]; ok && v == string(r.Value) {
				found++
			}
		}
		return found >= want
	})

	// Rejects and late readings, on a tap of their own.
	bad := openTap(t, srv.URL+"/v1/tap?pipeline=air10&kind=reject,late")
	publish(t, pub, "city/d1/air/s01", fmt.Sprintf(`{"ts":%d,"pm25":"high"}`, t0))
	publish(t, pub, "city/d1/air/s01", fmt.Sprintf(`{"ts":%d,"pm25":7}`, t0+1000)) // its window fired long ago
	testenv.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		ev, raw := bad.snapshot()
		var rej, late bool
		for i, e := range ev {
			switch e["kind"] {
			case "reject":
				rej = e["source"] == "air" && e["reason"] == "non_numeric" && strings.Contains(e["payload"].(string), "high")
			case "late":
				late = e["pipeline"] == "air10" && e["series"] == "d1/s01" && e["value"] == 7.0 && e["watermark"] != nil
			case "tap_stats":
			default:
				t.Fatalf("reject/late tap got %s", raw[i])
			}
		}
		if !rej || !late {
			return fmt.Errorf("reject seen %v, late seen %v: %d events", rej, late, len(ev))
		}
		return nil
	})

	// The reading tap: within its rate (a burst of one second, then rate
	// per second), and its counters say how many the limit held back.
	var stats map[string]any
	testenv.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		ev, _ := reads.snapshot()
		for _, e := range ev {
			if e["kind"] == "tap_stats" {
				stats = e
			}
		}
		if stats == nil || stats["rate_limited"].(float64) == 0 {
			return fmt.Errorf("no tap_stats with rate_limited > 0 yet: %v", stats)
		}
		return nil
	})
	elapsed := time.Since(start).Seconds()
	ev, raw = reads.snapshot()
	n := 0
	for i, e := range ev {
		switch e["kind"] {
		case "reading":
			n++
			if e["series"] == nil || e["field"] != "pm25" || e["source"] != "air" || e["time"] == nil {
				t.Fatalf("reading event %s", raw[i])
			}
		case "tap_stats":
		default:
			t.Fatalf("reading tap got %s", raw[i])
		}
	}
	if max := rate * (elapsed + 1); n == 0 || float64(n) > max {
		t.Fatalf("reading tap got %d events in %.1fs, want 1..%.0f", n, elapsed, max)
	}
	t.Logf("reading tap: %d events in %.1fs at rate %d/s; stats %v", n, elapsed, rate, stats)
}

// TestTapSurvivesReload: a tap on a pipeline keeps receiving after a
// reload rebuilt that pipeline (the new one has a new window size).
func TestTapSurvivesReload(t *testing.T) {
	dir := t.TempDir()
	kc := testenv.Kafka(t)
	load := func(size string) *config.Config {
		t.Helper()
		src := strings.Replace(fmt.Sprintf(apiConfig, dir, ""), "size: 10s, out_of_orderness", "size: "+size+", out_of_orderness", 1)
		c, err := config.LoadBytes("api.yaml", []byte(src), os.LookupEnv)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	g, err := pipeline.New(load("10s"), pipeline.Options{Logger: quietLog(), KafkaBrokers: kc.ListenAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Stop(ctx) })
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	tp := openTap(t, srv.URL+"/v1/tap?pipeline=air10&kind=reading")
	pub := mqttPublisher(t, g.MQTTAddr())
	t0 := time.Now().Add(-time.Hour).UnixMilli()
	readings := func() int {
		ev, _ := tp.snapshot()
		n := 0
		for _, e := range ev {
			if e["kind"] == "reading" {
				n++
			}
		}
		return n
	}
	publish(t, pub, "city/d1/air/s1", fmt.Sprintf(`{"ts":%d,"pm25":1}`, t0))
	testenv.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := readings(); n != 1 {
			return fmt.Errorf("%d readings on the tap", n)
		}
		return nil
	})
	if err := g.Reload(ctx, load("20s")); err != nil {
		t.Fatal(err)
	}
	var pi pipeline.PipelineInfo
	if apiGet(t, g.Handler(), "/v1/pipelines/air10", "", &pi); pi.Window.Size != "20s" {
		t.Fatalf("after the reload: window %+v", pi.Window)
	}
	publish(t, pub, "city/d1/air/s1", fmt.Sprintf(`{"ts":%d,"pm25":2}`, t0+1))
	testenv.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := readings(); n != 2 {
			return fmt.Errorf("%d readings on the tap after the reload", n)
		}
		return nil
	})
}
