package pipeline

import (
	"bytes"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
)

// TestExpositionGroups adds the series of two families interleaved, as
// rebuild does per source, and expects each family written once, in the
// order of its first sample, with escaped help and label values.
func TestExpositionGroups(t *testing.T) {
	var e exposition
	e.fam("a_total", "counter", "A, per source.").sample("", labels("source", "x"), formatUint(1))
	e.fam("b", "gauge", "B with a \\ and a\nnewline.").sample("", labels("source", "x"), formatFloat(0.5))
	e.fam("a_total", "gauge", "ignored: the first type and help stay").sample("", labels("source", `y"\`+"\n"), formatUint(2))
	e.fam("h_seconds", "histogram", "H.").sample("_bucket", labels("le", "+Inf"), "3")
	e.fam("b", "gauge", "").sample("", labels("source", "y", "reason", "r"), formatFloat(1e21))
	var buf bytes.Buffer
	if err := e.writeTo(&buf); err != nil {
		t.Fatal(err)
	}
	want := `# HELP a_total A, per source.
# TYPE a_total counter
a_total{source="x"} 1
a_total{source="y\"\\\n"} 2
# HELP b B with a \\ and a\nnewline.
# TYPE b gauge
b{source="x"} 0.5
b{source="y",reason="r"} 1e+21
# HELP h_seconds H.
# TYPE h_seconds histogram
h_seconds_bucket{le="+Inf"} 3
`
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// libraryFamilies returns the families addLibrary makes of the library's
// output, with metadata exposed or not.
func libraryFamilies(t *testing.T, meta bool) map[string]*family {
	t.Helper()
	metrics.ExposeMetadata(meta)
	defer metrics.ExposeMetadata(false)
	var lib bytes.Buffer
	metrics.WriteProcessMetrics(&lib)
	metrics.WriteFDMetrics(&lib)
	var e exposition
	e.addLibrary(lib.Bytes())
	return e.byName
}

// TestRuntimeFamiliesKnown fails when VictoriaMetrics/metrics writes a
// family runtimeFamilies does not describe (after a library upgrade), and
// checks that addLibrary groups the same families whether or not the
// library writes its (empty) metadata.
func TestRuntimeFamiliesKnown(t *testing.T) {
	metrics.ExposeMetadata(true)
	var lib bytes.Buffer
	metrics.WriteProcessMetrics(&lib)
	metrics.WriteFDMetrics(&lib)
	metrics.ExposeMetadata(false)
	for _, line := range strings.Split(lib.String(), "\n") {
		if f := strings.Fields(strings.TrimPrefix(line, "# TYPE ")); strings.HasPrefix(line, "# TYPE ") && len(f) == 2 {
			if _, ok := runtimeFamilies[f[0]]; !ok {
				t.Errorf("runtimeFamilies lacks %s (%s): give it a help text", f[0], f[1])
			}
		}
	}

	off, on := libraryFamilies(t, false), libraryFamilies(t, true)
	for name, f := range on {
		g := off[name]
		if g == nil {
			t.Errorf("%s only with metadata", name)
			continue
		}
		if f.typ != g.typ || f.help != g.help || strings.Count(f.samples.String(), "\n") != strings.Count(g.samples.String(), "\n") {
			t.Errorf("%s: with metadata %s %q (%d samples), without %s %q (%d samples)", name,
				f.typ, f.help, strings.Count(f.samples.String(), "\n"), g.typ, g.help, strings.Count(g.samples.String(), "\n"))
		}
		if f.help == "" || f.typ == "untyped" {
			t.Errorf("%s: type %s, help %q", name, f.typ, f.help)
		}
	}
	if len(on) != len(off) {
		t.Errorf("%d families with metadata, %d without", len(on), len(off))
	}
	for _, name := range []string{"go_cgo_calls_total", "go_gc_forced_total", "go_logical_cpus", "go_gc_pauses_seconds", "go_gc_duration_seconds"} {
		if on[name] == nil {
			t.Errorf("no family %s", name)
		}
	}
	for _, name := range []string{"go_cgo_calls_count", "go_gc_forced_count", "go_cpu_count", "go_gc_pauses_seconds_bucket", "go_gc_duration_seconds_sum"} {
		if on[name] != nil || off[name] != nil {
			t.Errorf("family %s should not exist", name)
		}
	}
}

// TestGatewayFamiliesConsistent checks that rebuild gives every series of
// a family the same type and help text, never empty.
func TestGatewayFamiliesConsistent(t *testing.T) {
	g := &Gateway{dead: newDeadLetters()}
	m := newGatewayMetrics(g)
	seen := map[string]series{}
	for _, s := range m.list {
		if s.help == "" || (s.typ != "counter" && s.typ != "gauge") {
			t.Errorf("%s: type %q, help %q", s.name, s.typ, s.help)
		}
		if p, ok := seen[s.name]; ok && (p.typ != s.typ || p.help != s.help) {
			t.Errorf("%s: %s %q and %s %q", s.name, p.typ, p.help, s.typ, s.help)
		}
		seen[s.name] = s
	}
	if len(seen) < 20 {
		t.Errorf("only %d families", len(seen))
	}
}
