package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edgeplane/edgeplane/internal/testenv"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestVersionAndUsage(t *testing.T) {
	if code, out, _ := runCLI("version"); code != 0 || !strings.HasPrefix(out, "edgeplane ") {
		t.Fatalf("version: %d %q", code, out)
	}
	if code, _, errOut := runCLI("frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Fatalf("unknown command: %d %q", code, errOut)
	}
	if code, _, _ := runCLI(); code != 2 {
		t.Fatalf("no args: %d", code)
	}
}

func TestValidateExampleConfigs(t *testing.T) {
	files, _ := filepath.Glob("../../configs/*.yaml")
	if len(files) == 0 {
		t.Fatal("no configs")
	}
	t.Setenv("EDGEPLANE_WS_TOKEN", "example-secret") // else: the packaged placeholder
	t.Setenv("EDGEPLANE_HTTP_TOKEN", "example-http-secret")
	t.Setenv("EDGEPLANE_DATA_DIR", t.TempDir())
	for _, f := range files {
		if code, out, errOut := runCLI("validate", "-c", f); code != 0 || !strings.Contains(out, ": ok") {
			t.Errorf("validate %s: exit %d\n%s%s", f, code, out, errOut)
		}
	}
}

// TestValidateReportsEveryProblem: a config with three mistakes gets all
// three, each with its line, and exit status 1.
func TestValidateReportsEveryProblem(t *testing.T) {
	src, err := os.ReadFile("../../configs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.NewReplacer(
		"      qos: 1\n", "      qos: 3\n",
		"      size: 10s\n      out_of_orderness: 2s\n    aggregates: [count, sum, min, max, mean]",
		"      size: 10s\n      out_of_orderness: 2s\n    aggregates: [count, sum, mode]",
		"    to:\n      topic: city.traffic.10s", "    to:\n      topic: \"city traffic\"",
	).Replace(string(src))
	f := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(f, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI("validate", "-c", f)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, errOut)
	}
	lines := regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(f)+`:(\d+):\d+: (\S+): `).FindAllStringSubmatch(errOut, -1)
	var paths []string
	for _, l := range lines {
		if n, _ := strconv.Atoi(l[1]); n == 0 {
			t.Errorf("no line number: %v", l[0])
		}
		paths = append(paths, l[2])
	}
	want := []string{"sources[2].mqtt.qos", "pipelines[0].aggregates", "pipelines[2].to.topic"}
	if strings.Join(paths, " ") != strings.Join(want, " ") || !strings.Contains(errOut, "3 problem(s)") {
		t.Fatalf("problems at %v, want %v:\n%s", paths, want, errOut)
	}
}

// TestDecodeTopic: decode -brokers prints a compact record's entries
// (the retraction among them), a json value as it is, and a tombstone as
// its key with a null value.
func TestDecodeTopic(t *testing.T) {
	kc := testenv.Kafka(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...), kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic("agg"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	block, err := os.ReadFile("../../sink/compact/testdata/block_zstd.bin")
	if err != nil {
		t.Fatal(err)
	}
	lines, err := os.ReadFile("../../sink/compact/testdata/block_zstd.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	const value = `{"id":"0123456789abcdef-1000","count":1}`
	for _, r := range []*kgo.Record{
		{Key: []byte("gw1"), Value: block},
		{Key: []byte("0123456789abcdef-1000"), Value: []byte(value)},
		{Key: []byte("0123456789abcdef-1000"), Value: nil},
	} {
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := runCLI("decode", "-brokers", strings.Join(kc.ListenAddrs(), ","), "-topic", "agg", "-max", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := string(lines) + value + "\n" + `{"key":"0123456789abcdef-1000","value":null}` + "\n"
	if out != want {
		t.Errorf("decode output\n%s\nwant\n%s", out, want)
	}
	if !strings.Contains(out, `"retracted":true`) {
		t.Errorf("no retraction entry in\n%s", out)
	}
}

func TestDecodeCompactGolden(t *testing.T) {
	for _, name := range []string{"block_zstd", "block_s2", "block_none", "epc1/block_zstd"} {
		code, out, errOut := runCLI("decode", "-f", "../../sink/compact/testdata/"+name+".bin")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, errOut)
		}
		want, err := os.ReadFile("../../sink/compact/testdata/" + name + ".jsonl")
		if err != nil {
			t.Fatal(err)
		}
		if out != string(want) {
			t.Errorf("%s: decode output differs from the golden JSON lines", name)
		}
	}
	if code, _, _ := runCLI("decode", "-f", "main_test.go"); code != 1 {
		t.Errorf("decoding a non-compact file: exit %d, want 1", code)
	}
}
