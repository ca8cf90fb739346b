package pipeline_test

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/pipeline"
)

// buildCap bounds what one fuzzed configuration may preallocate
// (series × fields of window state, ring slots): pipeline.New allocates
// it all up front, so a valid config of 10 million series would take
// gigabytes. Larger configs are skipped, not failed.
const buildCap = 1 << 18

// validatesBuilds fails t when data validates but pipeline.New refuses
// it. It starts no server and touches no disk.
func validatesBuilds(t *testing.T, name string, data []byte) {
	t.Helper()
	cfg, err := config.LoadBytes(name, data, func(string) (string, bool) { return "fuzz-value", true })
	if err != nil {
		return
	}
	for _, p := range cfg.Pipelines {
		fields := max(len(p.Fields), 8)
		if p.MaxSeries*fields > buildCap || p.Ring.Capacity*p.Ring.Shards > buildCap || p.Window.MaxOpenWindows > 256 {
			t.Skipf("pipeline %s preallocates more than the test allows", p.Name)
		}
	}
	g, err := pipeline.New(cfg, pipeline.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("%s validates but does not build a gateway: %v\n%s", name, err, data)
	}
	if g == nil {
		t.Fatal("nil gateway without error")
	}
}

// seedConfigs are every shipped config and the packaged one (its
// placeholders set), with data_dir in a temporary directory.
func seedConfigs(tb testing.TB) map[string][]byte {
	files, _ := filepath.Glob("../configs/*.yaml")
	files = append(files, "../deploy/arm64/edgeplane.yaml")
	out := map[string][]byte{}
	fix := strings.NewReplacer("id: gw-change-me", "id: gw-1", "kafka.example.internal", "10.0.0.9",
		"${EDGEPLANE_HTTP_TOKEN:-change-me}", "s3cret-http-token",
		"/var/lib/edgeplane", os.TempDir()+"/edgeplane-fuzz")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out[f] = []byte(fix.Replace(string(b)))
	}
	if len(out) < 3 {
		tb.Fatalf("only %d configs found", len(out))
	}
	return out
}

// TestValidatesBuilds: what `edgeplane validate` accepts, `edgeplane run`
// builds — for every shipped configuration.
func TestValidatesBuilds(t *testing.T) {
	for name, b := range seedConfigs(t) {
		if _, err := config.LoadBytes(name, b, func(string) (string, bool) { return "fuzz-value", true }); err != nil {
			t.Fatalf("%s does not validate: %v", name, err)
		}
		validatesBuilds(t, name, b)
	}
}

// FuzzValidatesBuilds: any configuration that validates builds a gateway.
// Run it with `go test -run '^$' -fuzz FuzzValidatesBuilds ./pipeline`.
func FuzzValidatesBuilds(f *testing.F) {
	for _, b := range seedConfigs(f) {
		f.Add(b)
	}
	f.Add([]byte(`gateway: {id: g}
kafka: {brokers: ["127.0.0.1:9092"]}
sources:
  - {name: s, mqtt: {broker: "tcp://127.0.0.1:1883", topics: [a/+]}, decode: {topic_pattern: "a/{id}", fields: [{name: v}]}}
pipelines:
  - {name: p, from: [s], window: {type: hopping, size: 10s, advance: 2s, offset: -1s, out_of_orderness: 0s},
     filter: [{tag: id, in: [x]}, {field: v, min: 0}], map: [{field: v, from: C, to: F}], aggregates: [p50, max]}
`))
	f.Fuzz(func(t *testing.T, data []byte) {
		validatesBuilds(t, "fuzz.yaml", data)
	})
}
