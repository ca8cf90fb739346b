package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeplane/edgeplane/config"
)

// writeDir writes files (name → contents) into a new directory.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const (
	dirGateway = `gateway:
  id: gw1
kafka:
  brokers: ["127.0.0.1:9092"]
  tls:
    enabled: true
`
	dirSources = `sources:
  - name: s1
    mqtt: {broker: tcp://127.0.0.1:1883, topics: ["city/#"]}
    decode: {fields: [{name: v}]}
pipelines:
  - name: p1
    from: [s1]
`
	dirMore = `# more pipelines
kafka:
  tls:
    server_name: kafka.city
sources:
  - name: s2
    mqtt: {broker: tcp://127.0.0.1:1883, topics: ["town/#"]}
    decode: {fields: [{name: v}]}
pipelines:
  - name: p2
    from: [s2]
    window: {size: 10s}
`
)

func TestLoadDirMerges(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"00-gateway.yaml": dirGateway,
		"10-city.yaml":    dirSources,
		"20-town.yml":     dirMore,
		"30-empty.yaml":   "# nothing here yet\n",
		".hidden.yaml":    "nonsense: [",
		"notes.txt":       "nonsense: [",
		"sub/x.yaml":      "nonsense: [",
	})
	c, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.File != dir {
		t.Errorf("File = %q, want the directory %q", c.File, dir)
	}
	if len(c.Sources) != 2 || c.Sources[1].Name != "s2" || len(c.Pipelines) != 2 || c.Pipelines[1].Name != "p2" {
		t.Fatalf("lists not concatenated: %+v %+v", c.Sources, c.Pipelines)
	}
	if !c.Kafka.TLS.Enabled || c.Kafka.TLS.ServerName != "kafka.city" || c.Gateway.ID != "gw1" {
		t.Fatalf("sections not merged: %+v %+v", c.Gateway, c.Kafka)
	}
	town := filepath.Join(dir, "20-town.yml")
	for path, want := range map[string]config.Pos{
		"gateway.id":                  {File: filepath.Join(dir, "00-gateway.yaml"), Line: 2, Col: 3},
		"kafka.tls.server_name":       {File: town, Line: 4, Col: 5},
		"kafka.tls":                   {File: filepath.Join(dir, "00-gateway.yaml"), Line: 5, Col: 3},
		"sources[0].name":             {File: filepath.Join(dir, "10-city.yaml"), Line: 2, Col: 5},
		"sources[1].name":             {File: town, Line: 6, Col: 5},
		"pipelines[1]":                {File: town, Line: 10, Col: 9}, // at its first key's colon
		"pipelines[1].window.size":    {File: town, Line: 12, Col: 14},
		"pipelines[1].window.gap":     {File: town, Line: 12, Col: 5}, // absent: its parent
		"sources[1].mqtt.topics[0]":   {File: town, Line: 7, Col: 51},
		"pipelines[0].window.size":    {File: filepath.Join(dir, "10-city.yaml"), Line: 6, Col: 9}, // absent
		"sources[0].decode.fields[0]": {File: filepath.Join(dir, "10-city.yaml"), Line: 4, Col: 23},
	} {
		if got := c.Where(path); got != want {
			t.Errorf("Where(%s) = %+v, want %+v", path, got, want)
		}
	}
	if !c.Has("pipelines[1].window.size") || c.Has("pipelines[0].window.size") {
		t.Errorf("Has does not follow the files")
	}
}

func TestLoadDirProblemsPointAtTheirFile(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"a.yaml": dirGateway + dirSources,
		"b.yaml": strings.Replace(dirMore, "window: {size: 10s}", "window: {size: 10s, type: sliding}", 1),
	})
	ps := loadProblems(t, dir)
	want := filepath.Join(dir, "b.yaml") + `:12:31: pipelines[1].window.type: unknown window type "sliding" (want tumbling, hopping or session)`
	if len(ps) != 1 || ps[0].String() != want {
		t.Fatalf("problems:\n%v\nwant:\n%s", ps, want)
	}
}

func TestLoadDirConflicts(t *testing.T) {
	other := strings.Replace(dirMore, "kafka:\n", "kafka:\n  brokers: [\"10.0.0.1:9092\"]\n", 1)
	same := "gateway: {id: gw1}\nkafka: {brokers: [\"127.0.0.1:9092\"]}\n"
	dir := writeDir(t, map[string]string{"a.yaml": dirGateway + dirSources, "b.yaml": other, "c.yaml": same})
	ps := loadProblems(t, dir)
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	want := b + ":3:3: kafka.brokers: set in " + a + ":4:3 and again in " + b + ":3:3, to another value"
	if len(ps) != 1 || ps[0].String() != want {
		t.Fatalf("problems:\n%v\nwant:\n%s", ps, want)
	}
}

func TestLoadDirErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		files map[string]string
		file  string // of the problem, in the directory; "" the directory
		msg   string
		path  string // of the problem, when set
	}{
		{"empty", nil, "", "no *.yaml or *.yml file", ""},
		{"no yaml", map[string]string{"a.json": "{}", "sub/b.yaml": dirGateway}, "", "no *.yaml or *.yml file", ""},
		{"unknown key", map[string]string{"a.yaml": dirGateway + dirSources, "b.yaml": "gateway:\n  log_levle: debug\n"},
			"b.yaml", `unknown option "log_levle" (did you mean "log_level"?)`, ""},
		{"unknown key in a list", map[string]string{"a.yaml": dirGateway + dirSources, "b.yaml": "pipelines:\n  - {name: p2, form: [s1]}\n"},
			"b.yaml", `unknown option "form" (did you mean "from"?)`, "pipelines[1].form"},
		{"syntax", map[string]string{"a.yaml": dirGateway + dirSources, "b.yaml": "kafka: [\n"}, "b.yaml", "", ""},
		{"too large together", map[string]string{"a.yaml": "# " + strings.Repeat("x", 600<<10) + "\n", "b.yaml": "# " + strings.Repeat("x", 600<<10) + "\n"},
			"b.yaml", "together are larger than 1 MiB", ""},
		{"second document", map[string]string{"a.yaml": dirGateway + dirSources + "---\ngateway: {id: gw2}\n"}, "a.yaml", "second YAML document", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeDir(t, c.files)
			ps := loadProblems(t, dir)
			want := dir
			if c.file != "" {
				want = filepath.Join(dir, c.file)
			}
			if len(ps) == 0 || ps[0].File != want || !strings.Contains(ps[0].Msg, c.msg) || c.file != "" && ps[0].Line == 0 ||
				c.path != "" && ps[0].Path != c.path {
				t.Fatalf("problems %v, want one in %s with %q at %q", ps, want, c.msg, c.path)
			}
		})
	}
}

func loadProblems(t *testing.T, path string) []config.Problem {
	t.Helper()
	_, err := config.Load(path)
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v (%T), want a *config.Error", err, err)
	}
	return ce.Problems
}
