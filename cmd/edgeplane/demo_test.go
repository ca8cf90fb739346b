//go:build demo

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/configs"
)

// TestDemoConfigOutsideSourceTree: from a directory without configs/,
// the demo loads the config built into the binary (the same as
// configs/demo.yaml), and -c still names a file of one's own.
func TestDemoConfigOutsideSourceTree(t *testing.T) {
	ref, err := config.Load("../../configs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../../configs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())

	cfg, err := loadDemoConfig("")
	if err != nil {
		t.Fatalf("built-in demo config: %v", err)
	}
	if cfg.File != configs.DemoName {
		t.Errorf("config file %q, want %q", cfg.File, configs.DemoName)
	}
	for _, part := range []struct {
		name     string
		got, ref any
	}{
		{"gateway", cfg.Gateway, ref.Gateway}, {"nats", cfg.NATS, ref.NATS}, {"kafka", cfg.Kafka, ref.Kafka},
		{"sources", cfg.Sources, ref.Sources}, {"pipelines", cfg.Pipelines, ref.Pipelines},
	} {
		if !reflect.DeepEqual(part.got, part.ref) {
			t.Errorf("built-in demo config: %s differs from configs/demo.yaml's", part.name)
		}
	}

	mine := strings.Replace(string(src), "id: demo-gw", "id: my-gw", 1)
	if err := os.WriteFile("mine.yaml", []byte(mine), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err := loadDemoConfig("mine.yaml"); err != nil || cfg.Gateway.ID != "my-gw" || cfg.File != "mine.yaml" {
		t.Fatalf("-c mine.yaml: %v (config %+v)", err, cfg)
	}
	if _, err := loadDemoConfig("configs/demo.yaml"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("-c configs/demo.yaml outside the source tree: err = %v, want not exist", err)
	}
	// Through the command: -c is honoured (and fails fast here).
	if code, _, errOut := runCLI("demo", "-c", "nope.yaml"); code != 1 || !strings.Contains(errOut, "nope.yaml") {
		t.Fatalf("demo -c nope.yaml: exit %d, %q", code, errOut)
	}
}

// TestSchemaCommand: edgeplane schema prints the committed JSON Schema.
func TestSchemaCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := cmdSchema(nil, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile("../../" + config.SchemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), file) || !json.Valid(out.Bytes()) {
		t.Fatalf("edgeplane schema printed %d bytes, not the %d of %s", out.Len(), len(file), config.SchemaFile)
	}
	for _, args := range [][]string{{"extra"}, {"-h"}, {"-x"}} {
		errOut.Reset()
		if err := cmdSchema(args, &out, &errOut); !errors.Is(err, errUsage) || !strings.Contains(errOut.String(), "usage: edgeplane schema") {
			t.Errorf("schema %v: err %v, stderr %q", args, err, errOut.String())
		}
	}
}

// TestDemoForwardsAggregates runs `edgeplane demo` briefly: the whole
// stack in-process, simulated sensors, aggregates read back from Kafka.
func TestDemoForwardsAggregates(t *testing.T) {
	src, err := os.ReadFile("../../configs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := strings.Replace(string(src), "http_listen: 127.0.0.1:8088", "http_listen: 127.0.0.1:0", 1)
	cfg = strings.Replace(cfg, "size: 10s", "size: 2s", -1)
	f := filepath.Join(dir, "demo.yaml")
	if err := os.WriteFile(f, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI("demo", "-c", f, "--data", filepath.Join(dir, "data"), "--duration", "8s", "--quiet", "--rate", "200")
	if code != 0 {
		t.Fatalf("demo exit %d\n%s\n%s", code, out, errOut)
	}
	m := regexp.MustCompile(`demo: read (\d+) aggregates back from Kafka`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no read-back line:\n%s", out)
	}
	if n, _ := strconv.Atoi(m[1]); n == 0 {
		t.Fatalf("no aggregates read back:\n%s", out)
	}
	if !strings.Contains(out, "received") || !strings.Contains(out, "forwarded to Kafka") {
		t.Fatalf("no status lines:\n%s", out)
	}
}
