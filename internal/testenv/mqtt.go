package testenv

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/natsd"
)

// FreeAddr returns a loopback host:port that was free a moment ago, for a
// listener that must keep its port across restarts or be named in a
// config before it starts.
//
// The port is drawn below the kernel's ephemeral range (Linux's
// ip_local_port_range), so that no connection or :0 listener of a test
// running beside this one can be handed it between now and its bind; a
// port from :0 could be, and a gateway test then failed to start
// ("server not ready", CI under go test ./...).
func FreeAddr(t testing.TB) string {
	t.Helper()
	lo, hi := belowEphemeral()
	for range 100 {
		addr := "127.0.0.1:0"
		if hi > lo {
			addr = fmt.Sprintf("127.0.0.1:%d", lo+rand.IntN(hi-lo))
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue // taken: draw again
		}
		a := l.Addr().String()
		l.Close()
		if _, dup := handedOut.LoadOrStore(a, true); dup {
			continue // this process has it for another listener
		}
		return a
	}
	t.Fatalf("free port: none found in %d..%d", lo, hi)
	return ""
}

// handedOut are the addresses FreeAddr returned in this process: a test
// that takes several gets distinct ones.
var handedOut sync.Map

// belowEphemeral returns the ports [lo, hi) that FreeAddr draws from:
// from 10000 up to the start of the ephemeral range, and below 30000
// (Kubernetes' NodePorts, which a node may redirect with no socket
// bound), or an empty range (FreeAddr then asks for :0) where the
// ephemeral range cannot be read.
func belowEphemeral() (lo, hi int) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0
	}
	var first, last int
	if _, err := fmt.Sscan(string(b), &first, &last); err != nil || first <= 11000 {
		return 0, 0
	}
	return 10000, min(first, 30000)
}

// NATSMQTTAt starts an embedded server with JetStream in dir and its MQTT
// listener on mqttAddr (host:port), so a restart with the same dir and
// address finds the same sessions at the same port. The server is shut
// down when the test ends (Shutdown may be called earlier).
func NATSMQTTAt(t testing.TB, dir, mqttAddr string) *natsd.Server {
	t.Helper()
	var s *natsd.Server
	var err error
	// The port may still be held by the previous server's socket for a
	// moment after a restart.
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err = natsd.Start(natsd.Options{StoreDir: dir, MQTTListen: mqttAddr})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("start nats with mqtt on %s: %v", mqttAddr, err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// Mosquitto starts a Mosquitto broker (Debian's /usr/sbin/mosquitto, or
// mosquitto on PATH) on a free loopback port, anonymous, with in-memory
// sessions, and returns its URL tcp://host:port. The test is skipped when
// Mosquitto is not installed. The broker is killed when the test ends.
func Mosquitto(t testing.TB) string {
	t.Helper()
	return MosquittoWith(t, "tcp", "allow_anonymous true\n")
}

// MosquittoWith is Mosquitto with extra configuration lines for its
// listener (for example certfile/keyfile/cafile, password_file,
// allow_anonymous), returning scheme://host:port.
func MosquittoWith(t testing.TB, scheme, extra string) string {
	t.Helper()
	bin := "/usr/sbin/mosquitto"
	if _, err := os.Stat(bin); err != nil {
		if bin, err = exec.LookPath("mosquitto"); err != nil {
			if os.Getenv("EDGEPLANE_REQUIRE_MOSQUITTO") != "" {
				t.Fatal("mosquitto is not installed and EDGEPLANE_REQUIRE_MOSQUITTO is set (make e2e)")
			}
			// make test needs only Go; make e2e (in .ci/run) installs
			// Mosquitto and runs these tests with it required.
			t.Skip("mosquitto is not installed (apt-get install mosquitto); make e2e runs this test")
		}
	}
	addr := FreeAddr(t)
	host, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	body := fmt.Sprintf("per_listener_settings false\npersistence false\nmax_inflight_messages 0\nmax_queued_messages 100000\nlog_dest stderr\nlog_type error\nlog_type information\nlistener %s %s\n%s", port, host, extra)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf)
	cmd.Dir = dir
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mosquitto: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("mosquitto's log:\n%s", out.String())
		}
	})
	// FreeAddr's port can be taken by another process before Mosquitto
	// binds it (go test runs packages in parallel, each with listeners):
	// a dial would then reach that process. Wait for Mosquitto's own word
	// that it is running, which it says only after binding.
	CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		select {
		case <-exited:
			return fmt.Errorf("mosquitto exited: %s", out.String())
		default:
		}
		if !strings.Contains(out.String(), " running") {
			return fmt.Errorf("mosquitto not running yet: %q", out.String())
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return fmt.Errorf("%w (mosquitto output: %q)", err, out.String())
		}
		return c.Close()
	})
	return scheme + "://" + net.JoinHostPort(host, port)
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
