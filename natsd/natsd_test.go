package natsd_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/natsd"
)

func TestStartWithMQTTAndInProcessClient(t *testing.T) {
	s, err := natsd.Start(natsd.Options{StoreDir: t.TempDir(), MQTTListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	if !s.JetStreamReady() {
		t.Fatal("jetstream not ready")
	}
	if s.ClientURL() != "" {
		t.Fatalf("client listener %q, want none by default", s.ClientURL())
	}
	addr := strings.TrimPrefix(s.MQTTAddr(), "tcp://")
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("mqtt listener %s: %v", addr, err)
	}
	c.Close()
	nc, err := s.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync("x")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("x", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil || string(m.Data) != "hi" {
		t.Fatalf("in-process round trip: %v %v", m, err)
	}
}

func TestStartErrors(t *testing.T) {
	if _, err := natsd.Start(natsd.Options{}); err == nil {
		t.Fatal("no store dir accepted")
	}
	if _, err := natsd.Start(natsd.Options{StoreDir: t.TempDir(), MQTTListen: "nonsense"}); err == nil {
		t.Fatal("bad mqtt address accepted")
	}
}

// TestStartPortInUse: a listener whose address is taken fails Start at
// once with the server's reason, where it used to wait out ReadyTimeout
// and say only "not ready" — for the client listener and the MQTT one.
func TestStartPortInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, o := range []natsd.Options{
		{Listen: taken.Addr().String()},
		{MQTTListen: taken.Addr().String()},
	} {
		o.StoreDir, o.ReadyTimeout = t.TempDir(), 10*time.Minute
		s, err := natsd.Start(o)
		if err == nil {
			s.Shutdown()
			t.Fatalf("%+v: started on a taken address", o)
		}
		if !strings.Contains(err.Error(), "address already in use") || !strings.Contains(err.Error(), taken.Addr().String()) {
			t.Fatalf("listen %q mqtt %q: %v, want the address and why", o.Listen, o.MQTTListen, err)
		}
		t.Log(err)
	}
}
