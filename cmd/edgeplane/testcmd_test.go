package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeplane/edgeplane/config"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestTestGolden")

// shippedConfigs maps a testdata directory to a shipped configuration; the
// packaged one is used with its placeholders set, as an operator would.
func shippedConfigs(t *testing.T) map[string]string {
	t.Helper()
	t.Setenv("EDGEPLANE_WS_TOKEN", "example-secret")
	t.Setenv("EDGEPLANE_HTTP_TOKEN", "example-http-secret")
	t.Setenv("EDGEPLANE_DATA_DIR", t.TempDir())
	raw, err := os.ReadFile("../../deploy/arm64/edgeplane.yaml")
	if err != nil {
		t.Fatal(err)
	}
	packaged := filepath.Join(t.TempDir(), "edgeplane.yaml")
	fixed := strings.NewReplacer("id: gw-change-me", "id: gw-d7-01", "kafka.example.internal", "10.20.0.5",
		"/var/lib/edgeplane", t.TempDir()).Replace(string(raw))
	if err := os.WriteFile(packaged, []byte(fixed), 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"demo":      "../../configs/demo.yaml",
		"smartcity": "../../configs/smartcity.yaml",
		"packaged":  packaged,
	}
}

// TestTestGolden: `edgeplane test` on every source of every shipped
// configuration, with one accepted and one rejected payload each
// (testdata/test/<config>/<source>.ndjson), windows on; the output must
// match the golden file and the exit status is 1 (a message was
// rejected). `go test ./cmd/edgeplane -run TestTestGolden -update`
// rewrites the golden files.
func TestTestGolden(t *testing.T) {
	for dir, file := range shippedConfigs(t) {
		c, err := config.Load(file)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, s := range c.Sources {
			in := filepath.Join("testdata", "test", dir, s.Name+".ndjson")
			if _, err := os.Stat(in); err != nil {
				t.Errorf("%s source %s has no sample payloads (%s)", dir, s.Name, in)
				continue
			}
			code, out, errOut := runCLI("test", "-c", file, "--source", s.Name, "--now", "2025-11-21T00:00:05Z", "--windows", in)
			if code != 1 {
				t.Errorf("%s/%s: exit %d, want 1 (one payload is rejected)\n%s", dir, s.Name, code, errOut)
			}
			if !strings.Contains(errOut, "2 message(s), 1 accepted, 1 rejected") {
				t.Errorf("%s/%s: summary %q", dir, s.Name, errOut)
			}
			golden := strings.TrimSuffix(in, ".ndjson") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal([]byte(out), want) {
				t.Errorf("%s/%s: output differs from %s:\n%s", dir, s.Name, golden, out)
			}
		}
	}
}

// TestTestCommand: the command's own behaviour — all accepted exits 0,
// a missing source is a clear error, records are JSON lines.
func TestTestCommand(t *testing.T) {
	t.Setenv("EDGEPLANE_WS_TOKEN", "example-secret")
	t.Setenv("EDGEPLANE_HTTP_TOKEN", "example-http-secret")
	in := filepath.Join(t.TempDir(), "ok.json")
	if err := os.WriteFile(in, []byte(`{"ts":1763683200123,"pm25":1,"pm10":2}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI("test", "-c", "../../configs/demo.yaml", "--source", "air", "--topic", "city/d1/air/s-9",
		"--now", "1763683205000", in)
	if code != 0 || !strings.Contains(out, "series=d1/air/s-9 field=pm25 time=2025-11-21T00:00:00.123Z value=1 air-10s:kept") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = runCLI("test", "-c", "../../configs/demo.yaml", in)
	if code != 1 || !strings.Contains(errOut, "choose one with --source") {
		t.Fatalf("no --source with three sources: exit %d, %s", code, errOut)
	}
	code, _, errOut = runCLI("test", "-c", "../../configs/demo.yaml", "--source", "air", "--now", "yesterday", in)
	if code != 1 || !strings.Contains(errOut, "--now") {
		t.Fatalf("bad --now: exit %d, %s", code, errOut)
	}
}
