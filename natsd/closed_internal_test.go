package natsd

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/edgeplane/edgeplane/internal/testenv/poll"
)

// TestClosedConnectionsForgotten: connections that come and go on the
// listeners leave at most maxClosedClients behind in the server's
// monitoring ring, not the server's default 10,000.
func TestClosedConnectionsForgotten(t *testing.T) {
	s, err := Start(Options{StoreDir: t.TempDir(), MQTTListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	const n = 20
	for i := 0; i < n; i++ {
		nc, err := s.Connect("flapping")
		if err != nil {
			t.Fatal(err)
		}
		nc.Close()
		// A raw TCP connection to the MQTT listener that never says CONNECT.
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.MQTTAddr(), "tcp://"), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	// Every connection gone from the server's client list. A closure is
	// recorded on its own goroutine and may still be on its way: the bound
	// holds either way, and the second poll waits for the first.
	poll.Until(t, 10*time.Second, 10*time.Millisecond, func() error {
		if n := s.srv.NumClients(); n != 0 {
			return fmt.Errorf("%d connections not closed", n)
		}
		return nil
	})
	var total int
	poll.Until(t, 10*time.Second, 10*time.Millisecond, func() error {
		cz, err := s.srv.Connz(&server.ConnzOptions{State: server.ConnClosed, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if total = cz.Total; total < 1 {
			return fmt.Errorf("no closed connection recorded")
		}
		return nil
	})
	if total > maxClosedClients {
		t.Fatalf("%d closed connections remembered after %d closed, want at most %d", total, 2*n, maxClosedClients)
	}
}
