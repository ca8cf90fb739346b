package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const brokerDownConfig = `
gateway:
  id: gw-early-http
  data_dir: %s
  http_listen: 127.0.0.1:0
kafka:
  brokers: ["127.0.0.1:9"]
sources:
  - name: air
    mqtt:
      broker: tcp://%s
      topics: ["city/+/air/+"]
    decode:
      fields: [{name: pm25}]
pipelines:
  - name: air10
    from: [air]
    fields: [pm25]
    window: {type: tumbling, size: 10s}
    aggregates: [count]
    to: {topic: test.air}
`

// startRun runs `edgeplane run` on the config file f in-process until
// stop is called or the test ends, and returns the HTTP address as soon
// as it listens, and the log.
func startRun(t *testing.T, f string) (addr string, logs *syncBuffer, stop func()) {
	t.Helper()
	cfg, err := config.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	logs = &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	keepRuntimeSettings(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	listening := make(chan string, 1)
	go func() {
		done <- runGateway(ctx, cfg, f, log, nil, func(a string) { listening <- a })
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	select {
	case addr = <-listening:
	case err := <-done:
		t.Fatalf("run ended before listening: %v\n%s", err, logs)
	case <-time.After(10 * time.Second):
		t.Fatalf("no HTTP listener after 10 s\n%s", logs)
	}
	return addr, logs, stop
}

// writeConfig writes a config file into a temporary directory.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "gw.yaml")
	if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRunServesHTTPAtOnce: with the MQTT source's broker unreachable (a
// closed loopback port), /healthz answers before the gateway's start-up
// is over, and /readyz reports the broker as the reason it is not ready.
func TestRunServesHTTPAtOnce(t *testing.T) {
	broker := testenv.FreeAddr(t) // nothing listens there
	t0 := time.Now()
	addr, logs, _ := startRun(t, writeConfig(t, fmt.Sprintf(brokerDownConfig, t.TempDir(), broker)))
	code, body := httpGet(t, "http://"+addr+"/healthz")
	// The claim is the order below; the bound only catches a listener
	// opened after start-up, with room for a loaded host.
	if took := time.Since(t0); code != http.StatusOK || took > 5*time.Second {
		t.Fatalf("/healthz: %d %q after %s, want 200 within 5 s", code, body, took)
	}
	// Start gives an unreachable broker its one-second grace: /healthz
	// answered before Start returned.
	if strings.Contains(logs.String(), "gateway started") {
		t.Fatalf("/healthz answered only after the gateway started:\n%s", logs)
	}
	if code, body := httpGet(t, "http://"+addr+"/readyz"); code != http.StatusServiceUnavailable ||
		!strings.Contains(body, "starting: ") && !strings.Contains(body, "source air is not connected") {
		t.Fatalf("/readyz during start-up: %d %s", code, body)
	}
	// Polled while Start runs and after: the race detector checks the
	// handlers against Start.
	want := "source air is not connected to broker tcp://" + broker
	testenv.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if code, _ := httpGet(t, "http://"+addr+"/metrics"); code != http.StatusOK {
			return fmt.Errorf("/metrics: %d", code)
		}
		code, body := httpGet(t, "http://"+addr+"/readyz")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, want) || !strings.Contains(body, "failed dials") {
			return fmt.Errorf("/readyz: %d %s, want 503 with %q and its failed dials", code, body, want)
		}
		return nil
	})
	if code, body := httpGet(t, "http://"+addr+"/metrics"); code != http.StatusOK || !strings.Contains(body, `edgeplane_ingest_connected{source="air"} 0`) {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}
}
