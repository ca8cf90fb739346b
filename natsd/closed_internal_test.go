package natsd

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
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
	// Every connection gone from the server: all 2n closures recorded.
	// (testenv.CheckFor's package imports this one.)
	for deadline := time.Now().Add(10 * time.Second); s.srv.NumClients() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open after 10s", s.srv.NumClients())
		}
	}
	cz, err := s.srv.Connz(&server.ConnzOptions{State: server.ConnClosed, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if cz.Total < 1 || cz.Total > maxClosedClients {
		t.Fatalf("%d closed connections remembered after %d closed, want 1 to %d", cz.Total, 2*n, maxClosedClients)
	}
}
