package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/operators"
	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/ring"
	"github.com/edgeplane/edgeplane/sink"
)

func TestExampleConfigsValidate(t *testing.T) {
	files, err := filepath.Glob("../configs/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configs: %v", err)
	}
	// The examples take their secrets from the environment; without them
	// validate refuses the packaged placeholders (TestPlaceholders).
	t.Setenv("EDGEPLANE_WS_TOKEN", "example-secret")
	t.Setenv("EDGEPLANE_HTTP_TOKEN", "example-http-secret")
	t.Setenv("EDGEPLANE_DATA_DIR", t.TempDir()) // /var/lib is not every tester's to write
	for _, f := range files {
		c, err := config.Load(f)
		if err != nil {
			t.Errorf("%s:\n%v", f, err)
			continue
		}
		if len(c.Pipelines) == 0 || len(c.Sources) == 0 {
			t.Errorf("%s: no pipelines or sources", f)
		}
	}
}

func noEnv(string) (string, bool) { return "", false }

const base = `gateway:
  id: gw1
kafka:
  brokers: ["127.0.0.1:9092"]
sources:
  - name: s1
    mqtt:
      broker: tcp://127.0.0.1:1883
      topics: ["city/#"]
    decode:
      time_path: ts
      fields: [{name: v}]
pipelines:
  - name: p1
    from: [s1]
    window: {size: 10s}
`

func TestDefaults(t *testing.T) {
	c, err := config.LoadBytes("base.yaml", []byte(base), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	p := c.Pipelines[0]
	if p.Window.Type != record.Tumbling || p.Window.Size.Ms() != 10000 || p.Window.Emit != operators.Update ||
		p.Window.OutOfOrderness.D() != config.DefaultOutOfOrderness ||
		p.Ring.Policy != ring.Block || p.Ring.Shards != 1 || p.To.Topic != "edgeplane.p1" || p.MaxSeries != 10000 {
		t.Fatalf("defaults not applied: %+v", p)
	}
	if c.Sources[0].MQTT.QoS != 1 || c.Sources[0].MQTT.ClientID != "edgeplane-gw1-s1" {
		t.Fatalf("source defaults: %+v", c.Sources[0].MQTT)
	}
	if c.NATS.Buffer.OnFull != sink.EvictOldest || c.Gateway.DataDir != "./data" {
		t.Fatalf("buffer defaults: %+v", c.NATS.Buffer)
	}
}

// problems loads src and returns its problems as "line: path: msg" lines.
func problems(t *testing.T, src string, env map[string]string) []config.Problem {
	t.Helper()
	_, err := config.LoadBytes("bad.yaml", []byte(src), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err == nil {
		t.Fatalf("config loaded without error:\n%s", src)
	}
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error is %T, not *config.Error: %v", err, err)
	}
	return ce.Problems
}

func TestThreeMistakesReportedTogether(t *testing.T) {
	src := strings.NewReplacer(
		"      topics: [\"city/#\"]", "      topics: [\"city/#\"]\n      qos: 2", // line 10: qos
		"    window: {size: 10s}", "    window: {size: 10s, type: sliding}\n    aggregatez: [count]", // lines 17, 18
	).Replace(base)
	ps := problems(t, src, nil)
	// The unknown key and the bad window type are found while walking
	// the file; the rest of it is still decoded and validated, so all
	// three are reported in one run, in file order.
	want := []struct {
		line int
		path string
		msg  string
	}{{10, "sources[0].mqtt.qos", "qos must be 0 or 1"}, {17, "pipelines[0].window.type", "unknown window type"},
		{18, "pipelines[0].aggregatez", "unknown option"}}
	check := func(ps []config.Problem, want []struct {
		line int
		path string
		msg  string
	}) {
		t.Helper()
		if len(ps) != len(want) {
			t.Fatalf("got %d problems, want %d: %v", len(ps), len(want), ps)
		}
		for i, w := range want {
			p := ps[i]
			if p.Line != w.line || p.Path != w.path || !strings.Contains(p.Msg, w.msg) || p.File != "bad.yaml" {
				t.Errorf("problem %d = %q, want line %d path %s msg ~%q", i, p.String(), w.line, w.path, w.msg)
			}
			if !strings.HasPrefix(p.String(), "bad.yaml:") {
				t.Errorf("problem %d does not start with file:line: %q", i, p.String())
			}
		}
	}
	check(ps, want)
}

func TestAllValidationProblemsAtOnce(t *testing.T) {
	src := strings.NewReplacer(
		"      topics: [\"city/#\"]", "      topics: [\"city/#\"]\n      qos: 2",
		"    window: {size: 10s}", "    window: {size: 10s, type: sliding}\n    ring: {policy: drop_everything}",
	).Replace(base)
	ps := problems(t, src, nil)
	got := make([]string, len(ps))
	for i, p := range ps {
		got[i] = p.String()
	}
	want := []string{
		"bad.yaml:10:7: sources[0].mqtt.qos: qos must be 0 or 1, not 2",
		"bad.yaml:17:31: pipelines[0].window.type: unknown window type \"sliding\" (want tumbling, hopping or session)",
		"bad.yaml:18:20: pipelines[0].ring.policy: unknown ring policy \"drop_everything\" (want block, drop_newest or drop_oldest)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestProblems(t *testing.T) {
	f := func(name, old, new string, wantPath, wantMsg string) {
		t.Helper()
		src := strings.Replace(base, old, new, 1)
		if src == base {
			t.Fatalf("%s: replacement %q not found", name, old)
		}
		for _, p := range problems(t, src, map[string]string{"PW": "secret"}) {
			if p.Path == wantPath && strings.Contains(p.Msg, wantMsg) {
				if p.Line == 0 {
					t.Errorf("%s: problem has no line: %v", name, p)
				}
				return
			}
		}
		t.Errorf("%s: no problem at %s containing %q", name, wantPath, wantMsg)
	}
	f("unknown top key", "gateway:", "gatway:\n  x: 1\ngateway:", "gatway", "unknown option")
	f("missing broker", `  brokers: ["127.0.0.1:9092"]`, `  brokers: []`, "kafka.brokers", "at least one broker")
	f("bad broker", `127.0.0.1:9092`, `kafka-1`, "kafka.brokers[0]", "not host:port")
	f("unknown source", "from: [s1]", "from: [s2]", "pipelines[0].from[0]", `no source named "s2"`)
	f("bad duration", "size: 10s", "size: 10 parsecs", "pipelines[0].window.size", "duration")
	f("unset env", "id: gw1", "id: ${GW_ID}", "", `"GW_ID" is not set`)
	f("bad aggregate", "window: {size: 10s}", "window: {size: 10s}\n    aggregates: [count, mode]", "pipelines[0].aggregates", `"mode"`)
	f("hopping advance", "window: {size: 10s}", "window: {size: 10s, type: hopping, advance: 20s}", "pipelines[0].window.advance", "want 0 < advance <= size (10s)")
	f("session gap", "window: {size: 10s}", "window: {type: session}", "pipelines[0].window.gap", "0s, want > 0")
	f("embedded without listener", "broker: tcp://127.0.0.1:1883", "broker: embedded", "sources[0].mqtt.broker", "mqtt_listen")
	f("bad filter", `topics: ["city/#"]`, `topics: ["city/#/x"]`, "sources[0].mqtt.topics[0]", "# must be")
	f("duplicate source", "pipelines:", "  - name: s1\n    mqtt: {broker: tcp://h:1, topics: [a]}\n    decode: {fields: [{name: v}]}\npipelines:", "sources[1].name", "duplicate")
	f("decode problem", "time_path: ts", "time_path: ts\n      time_unit: fortnights", "sources[0].decode.time_unit", "")
	// withPattern gives s1 a topic_pattern and adds pipelines[0] with
	// filter.
	const pipelines = "      fields: [{name: v}]\npipelines:\n"
	withPattern := func(filter string) string {
		return "      topic_pattern: \"city/{district}/{id}\"\n" + pipelines +
			"  - name: p2\n    from: [s1]\n    filter: [" + filter + "]\n    window: {size: 10s}\n"
	}
	f("tag without pattern", "window: {size: 10s}", "window: {size: 10s}\n    filter: [{tag: district, in: [d1]}]", "pipelines[0].filter[0].tag", "has no topic_pattern")
	f("unknown tag", pipelines, withPattern("{tag: floor, in: [d1]}"), "pipelines[0].filter[0].tag", "no variable {floor}")
	f("tag and field", pipelines, withPattern("{tag: district, field: v, in: [d1]}"), "pipelines[0].filter[0]", "not both")
	f("tag equals", pipelines, withPattern("{tag: district, equals: 3}"), "pipelines[0].filter[0]", "in: [value]")
	f("tag two tests", pipelines, withPattern("{tag: district, in: [a], not_in: [b]}"), "pipelines[0].filter[0]", "exactly one kind")
	f("tag empty in", pipelines, withPattern("{tag: district, in: []}"), "pipelines[0].filter[0].in", "at least one value")
	f("in without tag", pipelines, withPattern("{in: [d1]}"), "pipelines[0].filter[0].tag", "set tag")
	f("sasl without user", `  brokers: ["127.0.0.1:9092"]`, "  brokers: [\"127.0.0.1:9092\"]\n  sasl: {mechanism: plain, password: ${PW}}", "kafka.sasl.username", "required")
}

func TestEnvExpansion(t *testing.T) {
	src := strings.Replace(base, "id: gw1", "id: ${GW}-$$x", 1)
	src = strings.Replace(src, "-$$x", "", 1)
	c, err := config.LoadBytes("env.yaml", []byte(src), func(k string) (string, bool) {
		if k == "GW" {
			return "gw-from-env", true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Gateway.ID != "gw-from-env" {
		t.Fatalf("id %q", c.Gateway.ID)
	}
}

func TestEnvDefault(t *testing.T) {
	src := strings.Replace(base, "id: gw1", "id: ${GW:-gw-default}", 1)
	c, err := config.LoadBytes("env.yaml", []byte(src), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Gateway.ID != "gw-default" {
		t.Fatalf("id %q", c.Gateway.ID)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := config.Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(base))
	if b, err := os.ReadFile("../configs/demo.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("gateway: {id: [1, 2]}\n"))
	f.Add([]byte("pipelines: &a [*a]\n"))
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(loadBounded)
}

// TestPprofLoopbackOnly: gateway.pprof is off by default and refused
// unless gateway.http_listen is a loopback address.
func TestPprofLoopbackOnly(t *testing.T) {
	c, err := config.LoadBytes("base.yaml", []byte(base), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Gateway.Pprof {
		t.Fatal("pprof on by default")
	}
	with := func(listen string) string {
		return strings.Replace(base, "  id: gw1\n", "  id: gw1\n  pprof: true\n  http_listen: \""+listen+"\"\n", 1)
	}
	for _, listen := range []string{"127.0.0.1:9464", "127.0.0.2:0", "[::1]:9464", "localhost:9464"} {
		if _, err := config.LoadBytes("ok.yaml", []byte(with(listen)), noEnv); err != nil {
			t.Errorf("pprof with http_listen %s refused: %v", listen, err)
		}
	}
	for _, listen := range []string{"0.0.0.0:9464", ":9464", "[::]:9464", "192.168.1.10:9464", "gw.example:9464", "off"} {
		// (Off loopback the read API wants a token too: a second problem.)
		found := false
		for _, p := range problems(t, with(listen), nil) {
			found = found || p.Path == "gateway.pprof" && strings.Contains(p.Msg, "loopback") && p.Line == 3
		}
		if !found {
			t.Errorf("pprof with http_listen %s: no problem at gateway.pprof (line 3)", listen)
		}
	}
}

// TestGCPercent: gateway.gc_percent defaults to DefaultGCPercent, keeps a
// value in range and refuses one outside it at its line.
func TestGCPercent(t *testing.T) {
	c, err := config.LoadBytes("base.yaml", []byte(base), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Gateway.GCPercent != config.DefaultGCPercent {
		t.Fatalf("gc_percent %d by default, want %d", c.Gateway.GCPercent, config.DefaultGCPercent)
	}
	with := func(v string) string {
		return strings.Replace(base, "  id: gw1\n", "  id: gw1\n  gc_percent: "+v+"\n", 1)
	}
	for _, v := range []int{config.GCPercentMin, 100, config.GCPercentMax} {
		c, err := config.LoadBytes("ok.yaml", []byte(with(strconv.Itoa(v))), noEnv)
		if err != nil || c.Gateway.GCPercent != v {
			t.Errorf("gc_percent %d: %v, got %+v", v, err, c)
		}
	}
	for _, v := range []string{"0", "9", "1001", "-1"} {
		found := false
		for _, p := range problems(t, with(v), nil) {
			found = found || p.Path == "gateway.gc_percent" && strings.Contains(p.Msg, "want 10 to 1000") && p.Line == 3
		}
		if !found {
			t.Errorf("gc_percent %s: no problem at gateway.gc_percent (line 3)", v)
		}
	}
}
