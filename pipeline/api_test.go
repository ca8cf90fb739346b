package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/pipeline"
)

const apiConfig = `
gateway:
  id: gw-api
  data_dir: %s
  http_listen: "off"%s
nats:
  mqtt_listen: 127.0.0.1:0
kafka:
  brokers: ["127.0.0.1:9"]
  auto_create_topics: true
sources:
` + airSourceYAML + `pipelines:
  - name: air10
    from: [air]
    window: {type: tumbling, size: 10s, out_of_orderness: 1s, idle_timeout: 1s}
    aggregates: [count, sum, min, max, mean, last, p50]
    ring: {shards: 2}
    to: {topic: test.api}
  - name: air5
    from: [air]
    window: {type: hopping, size: 10s, advance: 5s, out_of_orderness: 1s, idle_timeout: 1s}
    aggregates: [count, sum]
    to: {topic: test.api5}
`

// startAPIGateway starts a gateway on apiConfig in-process (embedded NATS,
// kfake) with extra gateway options, and returns it and its Kafka.
func startAPIGateway(t *testing.T, extra string) (*pipeline.Gateway, []string) {
	t.Helper()
	kc := testenv.Kafka(t)
	cfg, err := config.LoadBytes("api.yaml", []byte(fmt.Sprintf(apiConfig, t.TempDir(), extra)), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	g, err := pipeline.New(cfg, pipeline.Options{Logger: quietLog(), KafkaBrokers: kc.ListenAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Stop(context.Background()) })
	return g, kc.ListenAddrs()
}

// apiGet serves GET path through the gateway's handler and decodes the
// JSON answer into v (when not nil); it returns the status.
func apiGet(t *testing.T, h http.Handler, path, token string, v any) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET %s: content type %q, body %s", path, ct, rec.Body)
	}
	if v != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, rec.Body)
		}
	}
	return rec.Code
}

// TestAPISeriesPartialEqualsKafka: the partial aggregates the series
// endpoint shows for open windows equal, value for value, what those
// windows later emit to Kafka (the final flag aside); the pipeline
// summary counts what happened; unknown names answer 404 with a JSON
// error.
func TestAPISeriesPartialEqualsKafka(t *testing.T) {
	g, brokers := startAPIGateway(t, "")
	h := g.Handler()
	pub := mqttPublisher(t, g.MQTTAddr())
	t0 := time.Now().Add(-time.Hour).UnixMilli() / 10_000 * 10_000
	const nSeries = 5
	for i := range nSeries {
		for k := range 4 {
			publish(t, pub, fmt.Sprintf("city/d1/air/s%d", i), fmt.Sprintf(`{"ts":%d,"pm25":%d.5}`, t0+int64(k)*1500, i*10+k*k))
		}
	}
	// The readings reached the shards: 4 per series in the open window.
	partial := map[string]map[string]any{} // by id
	testenv.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		for i := range nSeries {
			var d pipeline.SeriesDetail
			if code := apiGet(t, h, "/v1/pipelines/air10/series/"+url.PathEscape(fmt.Sprintf("d1/s%d", i)), "", &d); code != 200 {
				return fmt.Errorf("series d1/s%d: %d", i, code)
			}
			if len(d.Open) != 1 || d.OpenWindows != 1 {
				return fmt.Errorf("series d1/s%d: %d open windows", i, len(d.Open))
			}
			var a map[string]any
			if err := json.Unmarshal(d.Open[0], &a); err != nil {
				t.Fatal(err)
			}
			if a["count"] != 4.0 {
				return fmt.Errorf("series d1/s%d: count %v", i, a["count"])
			}
			if a["partial"] != true || d.LastEvent == nil || *d.LastEvent != t0+4500 || d.LastArrival == nil {
				t.Fatalf("series d1/s%d: %+v %v", i, d, a)
			}
			partial[a["id"].(string)] = a
		}
		return nil
	})
	// Unknown names: 404 with a JSON error.
	var e pipeline.APIError
	for _, p := range []string{"/v1/pipelines/nope", "/v1/pipelines/nope/series", "/v1/pipelines/air10/series/d9/none", "/v1/nothing"} {
		e = pipeline.APIError{}
		if code := apiGet(t, h, p, "", &e); code != 404 || e.Error == "" {
			t.Fatalf("GET %s: %d %+v, want 404 with an error", p, code, e)
		}
	}

	// Series scope: each series' window closes idle_timeout after its last
	// reading (the reading below moves s0 on at once).
	publish(t, pub, "city/d1/air/s0", fmt.Sprintf(`{"ts":%d,"pm25":1}`, t0+30_000))
	recs := testenv.ConsumeUntil(t, brokers, "test.api", 30*time.Second, func(rs []*kgo.Record) bool { return len(rs) >= nSeries })
	matched := 0
	for _, r := range recs {
		var a map[string]any
		if err := json.Unmarshal(r.Value, &a); err != nil {
			t.Fatal(err)
		}
		p, ok := partial[a["id"].(string)]
		if !ok {
			continue
		}
		delete(p, "partial")
		delete(p, "final")
		delete(a, "final")
		if !reflect.DeepEqual(p, a) {
			t.Fatalf("partial %v\nemitted %v", p, a)
		}
		matched++
	}
	if matched != nSeries {
		t.Fatalf("%d of %d partial aggregates found in Kafka", matched, nSeries)
	}
	// The series now shows its last emission.
	var d pipeline.SeriesDetail
	apiGet(t, h, "/v1/pipelines/air10/series/d1/s1", "", &d)
	if len(d.LastEmitted) != 1 {
		t.Fatalf("last emitted: %s", d.LastEmitted)
	}
	var last struct {
		Start   int64
		Count   int
		Partial bool
	}
	if err := json.Unmarshal(d.LastEmitted[0], &last); err != nil || last.Start != t0 || last.Count != 4 || last.Partial {
		t.Fatalf("last emitted: %s (%v)", d.LastEmitted[0], err)
	}

	var pi pipeline.PipelineInfo
	if code := apiGet(t, h, "/v1/pipelines/air10", "", &pi); code != 200 {
		t.Fatal(code)
	}
	if pi.Counters.Samples != nSeries*4+1 || pi.Counters.WindowsFired < nSeries || pi.Series.Known != nSeries ||
		len(pi.Shards) != 2 || pi.Watermark.Scope != "series" || pi.Window.Size != "10s" {
		t.Fatalf("pipeline info %+v", pi)
	}
	if l := pi.Watermark.Series; l == nil || l.Count != nSeries || l.Min > l.P50 || l.P50 > l.Max || l.Max < 3500 || l.Max > 4000 {
		t.Fatalf("series lag %+v", l) // the watermark is about an hour behind
	}
	var all struct{ Pipelines []pipeline.PipelineInfo }
	if apiGet(t, h, "/v1/pipelines", "", &all); len(all.Pipelines) != 2 || all.Pipelines[1].Window.Advance != "5s" {
		t.Fatalf("pipelines %+v", all)
	}
	var gi pipeline.GatewayInfo
	if apiGet(t, h, "/v1/gateway", "", &gi); gi.ID != "gw-api" || len(gi.Sources) != 1 || gi.Sources[0].Messages != nSeries*4+1 {
		t.Fatalf("gateway %+v", gi)
	}
}

// TestAPISeriesPagination: the series list is in key order, bounded by
// limit (at most 1000), filtered by prefix, and after/next walk it without
// gaps or repeats.
func TestAPISeriesPagination(t *testing.T) {
	g, _ := startAPIGateway(t, "")
	h := g.Handler()
	pub := mqttPublisher(t, g.MQTTAddr())
	t0 := time.Now().Add(-time.Hour).UnixMilli()
	var want []string
	for i := range 25 {
		d := "d1"
		if i%5 == 0 {
			d = "d2"
		}
		publish(t, pub, fmt.Sprintf("city/%s/air/s%02d", d, i), fmt.Sprintf(`{"ts":%d,"pm25":1}`, t0))
		if d == "d1" {
			want = append(want, fmt.Sprintf("d1/s%02d", i))
		}
	}
	sort.Strings(want)
	testenv.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		var pg pipeline.SeriesPage
		apiGet(t, h, "/v1/pipelines/air10/series?limit=1000", "", &pg)
		if pg.Total != 25 {
			return fmt.Errorf("%d series", pg.Total)
		}
		for _, s := range pg.Series {
			if s.OpenWindows != 1 {
				return fmt.Errorf("%s: %d open windows", s.Key, s.OpenWindows)
			}
		}
		return nil
	})
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		var pg pipeline.SeriesPage
		if code := apiGet(t, h, "/v1/pipelines/air10/series?prefix=d1/&limit=7&after="+url.QueryEscape(after), "", &pg); code != 200 {
			t.Fatal(code)
		}
		if len(pg.Series) > 7 || pg.Total != len(want) {
			t.Fatalf("page of %d, total %d", len(pg.Series), pg.Total)
		}
		for _, s := range pg.Series {
			got = append(got, s.Key)
			if s.LastEvent == nil || *s.LastEvent != t0 || s.Watermark == nil {
				t.Fatalf("%+v", s)
			}
		}
		if pg.Next == "" {
			break
		}
		after = pg.Next
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("pages gave %v\nwant %v", got, want)
	}
	var e pipeline.APIError
	for _, q := range []string{"limit=0", "limit=1001", "limit=x"} {
		if code := apiGet(t, h, "/v1/pipelines/air10/series?"+q, "", &e); code != 400 || e.Error == "" {
			t.Fatalf("%s: %d %+v", q, code, e)
		}
	}
}

// TestAPIToken: with gateway.http_token the read API wants the bearer
// token; /healthz does not.
func TestAPIToken(t *testing.T) {
	g, _ := startAPIGateway(t, "\n  http_token: s3cret-token")
	h := g.Handler()
	var e pipeline.APIError
	if code := apiGet(t, h, "/v1/pipelines", "", &e); code != 401 || e.Error == "" {
		t.Fatalf("no token: %d %+v", code, e)
	}
	if code := apiGet(t, h, "/v1/pipelines", "wrong", nil); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
	if code := apiGet(t, h, "/v1/pipelines", "s3cret-token", nil); code != 200 {
		t.Fatalf("token: %d", code)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != 200 {
		t.Fatalf("/healthz: %d", rec.Code)
	}
}
