//go:build e2e

package pipeline_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/internal/testenv"
)

// These tests run in .ci/run (make e2e) against real outside programs from
// Debian's packages: Mosquitto as the MQTT broker and kcat (librdkafka) as
// an independent Kafka client.

// startMosquitto runs mosquitto on a free loopback port with persistence
// in a temp dir, and returns its URL and a stop function.
func startMosquitto(t *testing.T) (url string, restart func()) {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin = "/usr/sbin/mosquitto"
		if _, err := os.Stat(bin); err != nil {
			t.Fatal("mosquitto not installed (apt-get install mosquitto)")
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	text := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\nmax_queued_messages 100000\nmax_inflight_messages 0\n",
		port, dir)
	if os.Geteuid() == 0 {
		// Keep root so the broker can write its database into the
		// test's temp dir (it would switch to user mosquitto).
		text += "user root\n"
	}
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	var logBuf bytes.Buffer
	start := func() {
		cmd = exec.Command(bin, "-c", conf)
		cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		testenv.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				return err
			}
			return c.Close()
		})
	}
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}
	start()
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("mosquitto log:\n%s", logBuf.String())
		}
	})
	return fmt.Sprintf("tcp://127.0.0.1:%d", port), func() { stop(); start() }
}

// kcatConsume reads topic from the beginning with kcat until want records
// or the timeout.
func kcatConsume(t *testing.T, broker, topic string, want int, timeout time.Duration) []kv {
	t.Helper()
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Fatal("kcat not installed (apt-get install kcat)")
	}
	var out []kv
	testenv.CheckFor(t, timeout, 200*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "kcat", "-C", "-b", broker, "-t", topic, "-o", "beginning", "-e", "-q",
			"-f", "%k\t%h\t%s\n")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		out = out[:0]
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			parts := strings.SplitN(sc.Text(), "\t", 3)
			if len(parts) != 3 {
				continue
			}
			r := kv{key: parts[0], value: parts[2]}
			for _, h := range strings.Split(parts[1], ",") {
				if v, ok := strings.CutPrefix(h, "id="); ok {
					r.idHeader = v
				}
			}
			out = append(out, r)
		}
		if len(out) < want {
			return fmt.Errorf("kcat read %d of %d records (%v: %s)", len(out), want, err, strings.TrimSpace(stderr.String()))
		}
		return nil
	})
	return out
}

// TestMosquittoKcatEndToEnd is the spine's scenario through a real
// Mosquitto broker, read back from Kafka with kcat.
func TestMosquittoKcatEndToEnd(t *testing.T) {
	broker, _ := startMosquitto(t)
	kc := testenv.Kafka(t)
	startGateway(t, fmt.Sprintf(e2eConfig, "%s", broker), kc.ListenAddrs())
	pub := mqttPublisher(t, broker)
	sc := newTumblingScenario()
	for _, m := range sc.messages {
		publish(t, pub, m[0], m[1])
	}
	got := kcatConsume(t, kc.ListenAddrs()[0], "test.air", len(sc.want), 60*time.Second)
	sc.check(t, got)
}

// TestHeldAcksSurviveKill: held acknowledgements through Mosquitto, with
// a kill mid-stream (see heldAcksSurviveKill).
func TestHeldAcksSurviveKill(t *testing.T) {
	broker, _ := startMosquitto(t)
	heldAcksSurviveKill(t, broker)
}
