package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// recordedAPI serves the read API answers recorded from `make run`'s demo
// (testdata/top/<endpoint><n>.json): the n-th request of an endpoint gets
// the n-th recording (the last one once they run out). It checks the
// bearer token when token is set.
func recordedAPI(t *testing.T, token string) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token != "" && r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"missing or wrong bearer token (gateway.http_token)"}`))
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/v1/")
		mu.Lock()
		calls[name]++
		n := min(calls[name], 2)
		mu.Unlock()
		b, err := os.ReadFile(filepath.Join("testdata", "top", name+string(rune('0'+n))+".json"))
		if err != nil {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"no recording"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestTopGolden: `edgeplane top` on two recorded polls of the demo
// gateway prints the golden screens (not a terminal: plain blocks), the
// rates computed over the gateway's clock between the recordings.
// `go test ./cmd/edgeplane -run TestTopGolden -update` rewrites it.
func TestTopGolden(t *testing.T) {
	srv := recordedAPI(t, "tok3n")
	code, out, errOut := runCLI("top", "-addr", srv.URL, "-token", "tok3n", "-n", "2", "-interval", "1ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden := filepath.Join("testdata", "top", "top.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Fatalf("top output differs from %s (run with -update):\n%s", golden, out)
	}
	if strings.Contains(out, "\x1b[") {
		t.Fatal("escape sequences in plain output")
	}

	// A wrong token: the API's error, exit 1.
	code, _, errOut = runCLI("top", "-addr", srv.URL, "-n", "1")
	if code != 1 || !strings.Contains(errOut, "401") || !strings.Contains(errOut, "bearer token") {
		t.Fatalf("without the token: exit %d, %q", code, errOut)
	}
}
