package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Brokers a scenario's sensors publish to (Scenario.Broker).
const (
	// BrokerEmbedded is the gateway's own MQTT listener (nats.mqtt_listen).
	BrokerEmbedded = "embedded"
	// BrokerMosquitto is a Mosquitto broker edgebench starts on loopback
	// for the run (Debian's mosquitto package); the gateway subscribes to
	// it with its paho source, as it would to a city's broker.
	BrokerMosquitto = "mosquitto"
)

// mosquittoBin finds the mosquitto binary: on PATH, or where Debian's
// package puts it.
func mosquittoBin() (string, error) {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto", nil
	}
	return "", errors.New("bench: broker mosquitto: no mosquitto binary on PATH or in /usr/sbin (Debian: apt-get install mosquitto)")
}

// startMosquitto starts Mosquitto on a free loopback port with anonymous
// access and no persistence, records it as the run's "broker" process,
// and returns its URL. Close stops it.
func (st *Stack) startMosquitto(ctx context.Context) (string, error) {
	bin, err := mosquittoBin()
	if err != nil {
		return "", err
	}
	addr, err := freeAddr()
	if err != nil {
		return "", err
	}
	host, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(st.dir, "mosquitto.conf")
	// max_queued_messages: a subscriber that falls behind for a moment
	// (a GC pause) is not dropped from under the benchmark at Mosquitto's
	// default of 1,000; QoS 0 messages are not queued at all by default.
	body := fmt.Sprintf("listener %s %s\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\nlog_dest stderr\nlog_type error\nlog_type warning\n", port, host)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return "", err
	}
	cmd := exec.Command(bin, "-c", conf)
	logf, err := os.Create(filepath.Join(st.dir, "mosquitto.log"))
	if err != nil {
		return "", err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("bench: start %s: %w", bin, err)
	}
	st.broker = cmd
	st.brokerExited = make(chan struct{})
	go func() { _ = cmd.Wait(); close(st.brokerExited) }()
	err = waitReady(ctx, func() bool {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	if err != nil {
		b, _ := os.ReadFile(filepath.Join(st.dir, "mosquitto.log"))
		return "", fmt.Errorf("bench: mosquitto not listening on %s: %w\n%s", addr, err, b)
	}
	st.procs = append(st.procs, RoleProc{Role: "broker", Proc: PidProc{cmd.Process.Pid}})
	st.notes = append(st.notes, "the MQTT broker is Mosquitto ("+bin+"), started by edgebench on "+addr+"; the gateway subscribes to it with its paho source")
	return "tcp://" + addr, nil
}

// stopMosquitto stops the broker startMosquitto started.
func (st *Stack) stopMosquitto() {
	if st.broker == nil || st.broker.Process == nil {
		return
	}
	terminate(st.broker, st.brokerExited, 10*time.Second)
	st.broker = nil
}
