package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/pipeline"
)

// TestPprofOptIn runs the demo pipelines (Kafka unreachable) with
// gateway.pprof off and on: off, /debug/pprof/ is not served; on, the heap
// profile is, beside /metrics.
func TestPprofOptIn(t *testing.T) {
	src, err := os.ReadFile("../../configs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, on := range []bool{false, true} {
		addr := testenv.FreeAddr(t)
		y := strings.NewReplacer("http_listen: 127.0.0.1:8088", "http_listen: "+addr,
			"data_dir: ./data/demo", "data_dir: "+t.TempDir(),
			`brokers: ["127.0.0.1:9092"]`, `brokers: ["127.0.0.1:1"]`).Replace(string(src))
		if on {
			y = strings.Replace(y, "  id: demo-gw\n", "  id: demo-gw\n  pprof: true\n", 1)
		}
		cfg, err := config.LoadBytes("demo.yaml", []byte(y), os.LookupEnv)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Gateway.Pprof != on || cfg.Gateway.HTTPListen != addr {
			t.Fatalf("config: pprof %v http_listen %s", cfg.Gateway.Pprof, cfg.Gateway.HTTPListen)
		}
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		keepRuntimeSettings(t)
		g, _, stop, err := launch(context.Background(), cfg, pipeline.Options{Logger: log}, log, nil)
		if err != nil {
			t.Fatal(err)
		}
		get := func(path string) (int, []byte) {
			t.Helper()
			resp, err := http.Get("http://" + addr + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			return resp.StatusCode, b
		}
		if code, b := get("/metrics"); code != 200 || !bytes.Contains(b, []byte("edgeplane_ingest_messages_total")) {
			t.Errorf("pprof %v: /metrics %d %.200q", on, code, b)
		}
		heapCode, heap := get("/debug/pprof/heap")
		indexCode, index := get("/debug/pprof/")
		if on {
			// A heap profile is a gzipped protobuf.
			if heapCode != 200 || len(heap) < 2 || heap[0] != 0x1f || heap[1] != 0x8b {
				t.Errorf("pprof on: /debug/pprof/heap %d, %d bytes %.20q", heapCode, len(heap), heap)
			}
			if indexCode != 200 || !bytes.Contains(index, []byte("goroutine")) {
				t.Errorf("pprof on: /debug/pprof/ %d %.200q", indexCode, index)
			}
		} else if heapCode != 404 || indexCode != 404 {
			t.Errorf("pprof off: /debug/pprof/heap %d, /debug/pprof/ %d, want 404", heapCode, indexCode)
		}
		stop()
		if err := g.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}
