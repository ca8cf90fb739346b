package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestTapCommand: `edgeplane tap` turns its flags into the /v1/tap query,
// prints the event lines (tap_stats only with -stats) and stops after -n
// events.
func TestTapCommand(t *testing.T) {
	var query string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		w.Header().Set("Content-Type", "application/x-ndjson")
		fmt.Fprintln(w, `{"kind":"tap_stats","sent":0,"sampled_out":0,"rate_limited":0,"dropped":0}`)
		for i := range 5 {
			fmt.Fprintf(w, `{"kind":"reading","pipeline":"p","series":"d1/s%d","value":%d}`+"\n", i, i)
		}
	}))
	t.Cleanup(srv.Close)
	code, out, errOut := runCLI("tap", "-addr", srv.URL, "-pipeline", "p", "-series", "d1/*", "-kind", "reading,late", "-rate", "7", "-sample", "3", "-n", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if query != "kind=reading%2Clate&pipeline=p&rate=7&sample=3&series=d1%2F%2A" {
		t.Fatalf("query %q", query)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"d1/s0"`) || !strings.Contains(lines[1], `"d1/s1"`) {
		t.Fatalf("output:\n%s", out)
	}
	if _, out, _ = runCLI("tap", "-addr", srv.URL, "-stats", "-n", "1"); !strings.HasPrefix(out, `{"kind":"tap_stats"`) {
		t.Fatalf("-stats output:\n%s", out)
	}
}
