package ingest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/decode"
	"github.com/edgeplane/edgeplane/internal/testenv"
)

// nodeWebSocket returns the node command line that has a global WebSocket
// (Node 22 by default, Node 20.10+ with --experimental-websocket). Without
// one the test is skipped, or fails when EDGEPLANE_REQUIRE_NODE=1 (CI).
func nodeWebSocket(t *testing.T) []string {
	t.Helper()
	missing := func(why string) {
		if os.Getenv("EDGEPLANE_REQUIRE_NODE") == "1" {
			t.Fatalf("%s, and EDGEPLANE_REQUIRE_NODE=1", why)
		}
		t.Skipf("%s: install Node.js 22 (or 20.10+) to run the browser-style client", why)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	const probe = "process.exit(typeof WebSocket === 'function' ? 0 : 3)"
	for _, cmd := range [][]string{{node}, {node, "--experimental-websocket"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := exec.CommandContext(ctx, cmd[0], append(cmd[1:], "-e", probe)...).Run()
		cancel()
		if err == nil {
			return cmd
		}
	}
	out, _ := exec.Command(node, "--version").Output()
	missing(fmt.Sprintf("node %s has no global WebSocket", strings.TrimSpace(string(out))))
	return nil
}

// TestWSNodeClient: a browser-style client (Node's built-in WebSocket,
// which cannot set headers) connects with the token as a query parameter
// and as a subprotocol entry; every reading it sends arrives, and a wrong
// token is refused.
func TestWSNodeClient(t *testing.T) {
	node := nodeWebSocket(t)
	var c collector
	dc := &decode.Options{TopicPattern: "city/{d}/{type}/{id}", Key: "{d}/{id}",
		Fields: []decode.Field{{Name: "pm25"}, {Name: "temp"}}, MaxSkew: -1}
	const token = "9f86d081884c7d659a2feaa0c55ad015"
	s, url := startWS(t, WSOptions{Path: "/ingest/", Token: token}, dc, c.deliver)

	client := func(id, tok, mode string, n int) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		args := append(node[1:], "testdata/ws_client.mjs", url+"city/d7/air/"+id, tok, mode, fmt.Sprint(n))
		out, err := exec.CommandContext(ctx, node[0], args...).CombinedOutput()
		return string(out), err
	}
	const n = 50
	for _, mode := range []string{"query", "protocol"} {
		if out, err := client("s-"+mode, token, mode, n); err != nil {
			t.Fatalf("%s: node client: %v\n%s", mode, err, out)
		}
		if out, err := client("s-"+mode, "wrong", mode, n); err == nil {
			t.Fatalf("%s: node client connected with a wrong token\n%s", mode, out)
		}
	}
	c.waitFor(t, 2*2*n)
	testenv.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if got := s.Stats.Accepted.Load(); got != 2*n {
			return fmt.Errorf("accepted %d records, want %d", got, 2*n)
		}
		return nil
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range []string{"d7/s-query", "d7/s-protocol"} {
		if c.topics[k] != 2*n {
			t.Errorf("series %s: %d readings, want %d (all: %v)", k, c.topics[k], 2*n, c.topics)
		}
	}
	if got := s.WS.Unauthorized.Load(); got != 2 {
		t.Errorf("unauthorized %d, want 2 (one per wrong-token client)", got)
	}
	if got := s.Stats.RejectedTotal(); got != 0 {
		t.Errorf("rejected %d records, want 0", got)
	}
}
