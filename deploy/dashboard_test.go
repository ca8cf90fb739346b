package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/pipeline"
)

// notYetExported lists metrics the dashboard queries before the gateway
// exports them, each with the reason. The test logs them while absent and
// fails once one appears, so the list only shrinks.
var notYetExported = map[string]string{}

// promLabels are added by Prometheus at scrape time, not by the gateway.
var promLabels = map[string]bool{"instance": true, "job": true}

const dashboardConfig = `
gateway:
  id: gw-dashboard
  data_dir: %s
  http_listen: "off"
nats:
  mqtt_listen: 127.0.0.1:0
kafka:
  brokers: ["127.0.0.1:9"]
  auto_create_topics: true
sources:
  - name: air
    mqtt:
      broker: embedded
      topics: ["city/+/air/+"]
      qos: 1
    decode:
      topic_pattern: "city/{district}/{type}/{id}"
      key: "{district}/{id}"
      time_path: ts
      time_unit: ms
      fields: [{name: pm25}]
pipelines:
  - name: air1s
    from: [air]
    window: {type: tumbling, size: 1s, out_of_orderness: 1s}
    aggregates: [count, mean]
    to: {topic: test.dashboard}
`

// TestDashboardMetricsExist starts a gateway in-process, sends it a few
// readings (and one malformed message) until aggregates reach Kafka, and
// checks that every metric the dashboard's PromQL names is in /metrics,
// with every label the expressions select on or group by.
func TestDashboardMetricsExist(t *testing.T) {
	exprs := dashboardExprs(t)
	if len(exprs) < 20 {
		t.Fatalf("found only %d PromQL expressions in the dashboard", len(exprs))
	}

	kc := testenv.Kafka(t)
	cfg, err := config.LoadBytes("dashboard.yaml", []byte(fmt.Sprintf(dashboardConfig, t.TempDir())), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	g, err := pipeline.New(cfg, pipeline.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), KafkaBrokers: kc.ListenAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Stop(context.Background()) })

	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(g.MQTTAddr()).SetClientID("dashboard-pub").SetCleanSession(true))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect: %v", tok.Error())
	}
	defer pub.Disconnect(100)
	t0 := time.Now().Add(-time.Minute).UnixMilli() / 1000 * 1000
	for i, p := range []string{
		fmt.Sprintf(`{"ts":%d,"pm25":10}`, t0),
		fmt.Sprintf(`{"ts":%d,"pm25":12}`, t0+500),
		`{"ts":`, // malformed: a reject under its reason
		fmt.Sprintf(`{"ts":%d,"pm25":11}`, t0+20000), // moves the watermark past the first window
	} {
		tok := pub.Publish(fmt.Sprintf("city/d1/air/s%d", i%2), 1, false, p)
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	testenv.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		if s := g.Snapshot(); s.KafkaRecords == 0 || s.Rejected == 0 {
			return fmt.Errorf("no aggregate in Kafka yet: %+v", s)
		}
		return nil
	})

	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	exported := parseExposition(string(body))

	checked := map[string]bool{}
	for _, e := range exprs {
		names := metricNames(e)
		if len(names) == 0 {
			t.Errorf("no edgeplane_, go_ or process_ metric in %q", e)
		}
		groupBy := groupingLabels(e)
		for _, name := range names {
			labels, ok := exported[name]
			if !ok {
				if why, pending := notYetExported[name]; pending {
					if !checked[name] {
						t.Logf("%s: not exported yet (%s)", name, why)
					}
					checked[name] = true
					continue
				}
				t.Errorf("dashboard queries %s, which /metrics does not export (in %q)", name, e)
				continue
			}
			checked[name] = true
			for _, l := range append(selectorLabels(e, name), groupBy...) {
				if !promLabels[l] && l != "le" && !labels[l] {
					t.Errorf("dashboard uses label %q of %s, which has labels %v (in %q)", l, name, keys(labels), e)
				}
			}
		}
	}
	for name, why := range notYetExported {
		if _, ok := exported[name]; ok {
			t.Errorf("%s is exported now: remove it from notYetExported (%s)", name, why)
		}
	}
	t.Logf("%d expressions, %d metrics checked against /metrics", len(exprs), len(checked)-len(notYetExported))
}

// dashboardExprs returns every PromQL expression in the dashboard: the
// panels' targets and the template variables' queries.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("grafana/edgeplane.json")
	if err != nil {
		t.Fatal(err)
	}
	var d any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana/edgeplane.json: %v", err)
	}
	var out []string
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(x, k)
			}
		case []any:
			for _, x := range v {
				walk(x, key)
			}
		case string:
			switch key {
			case "expr":
				out = append(out, v)
			case "query", "definition":
				if strings.HasPrefix(v, "label_values(") {
					out = append(out, v)
				}
			}
		}
	}
	walk(d, "")
	sort.Strings(out)
	return out
}

var metricRE = regexp.MustCompile(`\b(?:edgeplane|go|process)_[a-zA-Z0-9_]*`)

// metricNames returns the metric names in a PromQL expression. Every
// metric edgeplane exports starts with edgeplane_, go_ or process_.
func metricNames(expr string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range metricRE.FindAllString(stripStrings(expr), -1) {
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}

var (
	stringRE   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	groupingRE = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	// matcherRE is one label matcher inside a selector's braces.
	matcherRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
)

// stripStrings blanks quoted label values, so `source=~"process_x"` is not
// read as a metric name.
func stripStrings(expr string) string { return stringRE.ReplaceAllString(expr, `""`) }

// selectorLabels returns the label names matched in name{…} selectors.
func selectorLabels(expr, name string) []string {
	re := regexp.MustCompile(`\b` + regexp.QuoteMeta(name) + `\{([^}]*)\}`)
	var out []string
	for _, m := range re.FindAllStringSubmatch(stripStrings(expr), -1) {
		for _, l := range matcherRE.FindAllStringSubmatch(m[1], -1) {
			out = append(out, l[1])
		}
	}
	return out
}

// groupingLabels returns the labels of by (…) and without (…) clauses;
// label_values(metric, label) counts as grouping by label.
func groupingLabels(expr string) []string {
	var out []string
	for _, m := range groupingRE.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
			}
		}
	}
	if strings.HasPrefix(expr, "label_values(") {
		args := strings.TrimSuffix(strings.TrimPrefix(expr, "label_values("), ")")
		if i := strings.LastIndexByte(args, ','); i >= 0 {
			out = append(out, strings.TrimSpace(args[i+1:]))
		}
	}
	return out
}

// parseExposition maps each metric name in Prometheus text format to the
// set of its label names.
func parseExposition(body string) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		if out[name] == nil {
			out[name] = map[string]bool{}
		}
		if strings.HasPrefix(rest, "{") {
			for _, l := range matcherRE.FindAllStringSubmatch(stripStrings(rest[:strings.IndexByte(rest, '}')+1]), -1) {
				out[name][l[1]] = true
			}
		}
	}
	return out
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestPromQLParsing pins the helpers above on the shapes the dashboard uses.
func TestPromQLParsing(t *testing.T) {
	f := func(expr string, names, sel, group string) {
		t.Helper()
		if got := strings.Join(metricNames(expr), " "); got != names {
			t.Errorf("metricNames(%q) = %q, want %q", expr, got, names)
		}
		var s []string
		for _, n := range metricNames(expr) {
			s = append(s, selectorLabels(expr, n)...)
		}
		if got := strings.Join(s, " "); got != sel {
			t.Errorf("selectorLabels(%q) = %q, want %q", expr, got, sel)
		}
		if got := strings.Join(groupingLabels(expr), " "); got != group {
			t.Errorf("groupingLabels(%q) = %q, want %q", expr, got, group)
		}
	}
	f(`sum by (reason) (rate(edgeplane_ingest_rejected_total{instance=~"$instance",source=~"go_x"}[$__rate_interval])) > 0`,
		"edgeplane_ingest_rejected_total", "instance source", "reason")
	f(`histogram_quantile(0.99, sum by (le) (rate(edgeplane_sink_latency_seconds_bucket{instance=~"$instance"}[5m])))`,
		"edgeplane_sink_latency_seconds_bucket", "instance", "le")
	f(`time() - edgeplane_operators_watermark_seconds{pipeline=~"$pipeline"} and process_cpu_seconds_total`,
		"edgeplane_operators_watermark_seconds process_cpu_seconds_total", "pipeline", "")
	f(`label_values(edgeplane_ingest_messages_total{instance=~"$instance"}, source)`,
		"edgeplane_ingest_messages_total", "instance", "source")

	got := parseExposition("# HELP x\nedgeplane_a_total{source=\"a,b=c\",reason=\"x\"} 1\nedgeplane_b 2\n")
	if strings.Join(keys(got["edgeplane_a_total"]), " ") != "reason source" || got["edgeplane_b"] == nil {
		t.Errorf("parseExposition: %v", got)
	}
}
