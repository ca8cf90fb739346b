package pipeline_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const labelPair = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"`

var (
	metricNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	// labelSetRE is {name="value",…}; VictoriaMetrics/metrics puts a
	// space after the comma in go_info_ext, which Prometheus accepts.
	labelSetRE = regexp.MustCompile(`^\{` + labelPair + `(?:, ?` + labelPair + `)*\}$`)
	types      = map[string]bool{"counter": true, "gauge": true, "histogram": true, "summary": true, "untyped": true}
)

// checkExposition checks Prometheus text exposition format the way
// `promtool check metrics` parses and lints what edgeplane writes: every
// family has exactly one HELP line with a non-empty text, then exactly one
// TYPE line, then all of its samples, and no family comes back later; a
// histogram's or summary's samples are its _bucket, _sum and _count (and
// the summary's quantiles); counters, and only counters, end in _total,
// only histograms and summaries use _bucket, _sum and _count, and no name
// says _by_ (that is a label). No series appears twice. It returns the
// problems, each with its line number.
func checkExposition(body string) []string {
	type fam struct {
		typ     string
		samples int
	}
	var problems []string
	bad := func(n int, format string, a ...any) {
		problems = append(problems, fmt.Sprintf("line %d: ", n)+fmt.Sprintf(format, a...))
	}
	fams := map[string]*fam{}
	series := map[string]bool{}
	cur := ""
	lines := strings.Split(body, "\n")
	if lines[len(lines)-1] != "" {
		bad(len(lines), "no newline at the end")
	}
	for i, line := range lines[:len(lines)-1] {
		n := i + 1
		switch {
		case strings.HasPrefix(line, "# HELP "):
			name, help, _ := strings.Cut(line[len("# HELP "):], " ")
			if !metricNameRE.MatchString(name) {
				bad(n, "bad metric name %q", name)
			}
			if fams[name] != nil {
				bad(n, "second HELP for %s (the family is split or its metadata repeated)", name)
				continue
			}
			if strings.TrimSpace(help) == "" {
				bad(n, "empty HELP for %s", name)
			}
			if cur != "" && fams[cur].typ == "" {
				bad(n, "%s has no TYPE line", cur)
			}
			fams[name] = &fam{}
			cur = name
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(line[len("# TYPE "):])
			if len(f) != 2 {
				bad(n, "malformed TYPE line %q", line)
				continue
			}
			name, typ := f[0], f[1]
			switch {
			case name != cur:
				bad(n, "TYPE for %s not right after its HELP", name)
				continue
			case fams[name].typ != "":
				bad(n, "second TYPE for %s", name)
				continue
			case fams[name].samples > 0:
				bad(n, "TYPE for %s after its samples", name)
			case !types[typ]:
				bad(n, "unknown type %q for %s", typ, name)
			}
			fams[name].typ = typ
			hasTotal := strings.HasSuffix(name, "_total")
			switch {
			case typ == "counter" && !hasTotal:
				bad(n, "counter %s does not end in _total", name)
			case typ != "counter" && typ != "untyped" && hasTotal:
				bad(n, "%s %s ends in _total", typ, name)
			}
			if typ != "histogram" && typ != "summary" {
				for _, sfx := range []string{"_bucket", "_sum", "_count"} {
					if strings.HasSuffix(name, sfx) {
						bad(n, "%s %s ends in %s, reserved for histograms and summaries", typ, name, sfx)
					}
				}
			}
			if strings.Contains(name, "_by_") {
				bad(n, "%s: use a label, not _by_ in the name", name)
			}
		case line == "" || line[0] == '#':
			bad(n, "unexpected line %q", line)
		default:
			name, rest := line, ""
			if j := strings.IndexAny(line, "{ "); j >= 0 {
				name, rest = line[:j], line[j:]
			}
			lbls, value := "", strings.TrimPrefix(rest, " ")
			if strings.HasPrefix(rest, "{") {
				j := strings.LastIndex(rest, "} ")
				if j < 0 {
					bad(n, "malformed sample %q", line)
					continue
				}
				lbls, value = rest[:j+1], rest[j+2:]
				if !labelSetRE.MatchString(lbls) {
					bad(n, "malformed labels %q", lbls)
				}
			}
			if _, err := strconv.ParseFloat(value, 64); err != nil {
				bad(n, "bad value %q", value)
			}
			f := fams[cur]
			in := cur != "" && name == cur
			if f != nil && (f.typ == "histogram" || f.typ == "summary") {
				in = in || name == cur+"_sum" || name == cur+"_count" || (f.typ == "histogram" && name == cur+"_bucket")
			}
			if !in {
				bad(n, "sample %s outside its family's block (after the metadata of %q)", name, cur)
				continue
			}
			if f.typ == "" {
				bad(n, "sample %s before the TYPE line of %s", name, cur)
			}
			f.samples++
			if key := name + lbls; series[key] {
				bad(n, "series %s twice", key)
			} else {
				series[key] = true
			}
		}
	}
	if cur != "" && fams[cur].typ == "" {
		bad(len(lines), "%s has no TYPE line", cur)
	}
	return problems
}

// TestCheckExposition pins the checker on the exposition edgeplane wrote
// before (metadata repeated per series, empty HELP) and on other faults.
func TestCheckExposition(t *testing.T) {
	for _, c := range []struct {
		body string
		want string // a substring of the first problem; "" for none
	}{
		{"# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 1\na_total{x=\"2\"} 2\n", ""},
		{"# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 0.5\nh_count 1\n", ""},
		{"# HELP i I.\n# TYPE i gauge\ni{compiler=\"gc\", GOARCH=\"amd64\"} 1\n", ""},
		{"# HELP a_total\n# TYPE a_total counter\na_total{x=\"1\"} 1\n# HELP a_total\n# TYPE a_total counter\na_total{x=\"2\"} 2\n", "empty HELP"},
		{"# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 1\n# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"2\"} 2\n", "second HELP"},
		{"# HELP a_total A.\n# TYPE a_total counter\na_total 1\n# HELP b B.\n# TYPE b gauge\nb 1\na_total{x=\"2\"} 2\n", "outside its family"},
		{"# HELP a_total A.\na_total 1\n# TYPE a_total counter\n", "before the TYPE line"},
		{"# HELP a_total A.\n# TYPE a_total counter\n# TYPE a_total counter\n", "second TYPE"},
		{"a 1\n", "outside its family"},
		{"# HELP a A.\n# TYPE a counter\na 1\n", "does not end in _total"},
		{"# HELP a_total A.\n# TYPE a_total gauge\na_total 1\n", "ends in _total"},
		{"# HELP a_count A.\n# TYPE a_count gauge\na_count 1\n", "reserved for histograms"},
		{"# HELP e_by_type_total A.\n# TYPE e_by_type_total counter\ne_by_type_total 1\n", "use a label"},
		{"# HELP a A.\n# TYPE a gauge\na 1\na 2\n", "twice"},
		{"# HELP a A.\n# TYPE a gauge\na{x=\"1} 1\n", "malformed"},
		{"# HELP a A.\n# TYPE a gauge\na x\n", "bad value"},
		{"# HELP a A.\n# TYPE a gauge\na 1", "no newline"},
	} {
		p := checkExposition(c.body)
		switch {
		case c.want == "" && len(p) > 0:
			t.Errorf("%q: unexpected problems %v", c.body, p)
		case c.want != "" && (len(p) == 0 || !strings.Contains(p[0], c.want)):
			t.Errorf("%q: problems %v, want first to contain %q", c.body, p, c.want)
		}
	}
}
