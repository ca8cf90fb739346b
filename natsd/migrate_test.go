package natsd_test

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/natsd"
)

// TestUpgradeKeepsMQTTSessions: a store written by a version without
// accounts (MQTT sessions in the global account) holds a persistent
// session with a QoS 1 message queued while its subscriber was away;
// after the upgrade the subscriber reconnects to the same session and
// gets the message.
func TestUpgradeKeepsMQTTSessions(t *testing.T) {
	dir, addr := t.TempDir(), testenv.FreeAddr(t)
	host, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	old, err := server.NewServer(&server.Options{ServerName: "edgeplane", JetStream: true, StoreDir: dir,
		NoSigs: true, NoLog: true, DontListen: true, MQTT: server.MQTTOpts{Host: host, Port: port}})
	if err != nil {
		t.Fatal(err)
	}
	old.Start()
	if !old.ReadyForConnections(10 * time.Second) {
		t.Fatal("old-style server not ready")
	}
	got := make(chan string, 4)
	keeper := func() mqtt.Client {
		o := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("keeper").SetCleanSession(false).
			SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).
			SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { got <- string(m.Payload()) })
		c := mqtt.NewClient(o)
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("keeper connect: %v", tok.Error())
		}
		return c
	}
	k := keeper()
	if tok := k.Subscribe("city/#", 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	k.Disconnect(50)
	// The keeper must be gone from the server before the message comes:
	// delivered to a connection still closing, it would wait out the
	// session consumer's ack wait (30 s) before its redelivery.
	testenv.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if n := old.NumClients(); n != 0 {
			return fmt.Errorf("%d clients still connected", n)
		}
		return nil
	})
	pub, err := mqttClient(t, "tcp://"+addr, "pub", "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	mqttPublish(t, pub, "city/d1/air/s1", "queued")
	pub.Disconnect(50)
	old.Shutdown()
	old.WaitForShutdown()

	start(t, natsd.Options{StoreDir: dir, MQTTListen: addr})
	k = keeper()
	defer k.Disconnect(50)
	select {
	case m := <-got:
		if m != "queued" {
			t.Fatalf("got %q", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the message queued before the upgrade was not delivered after it")
	}
}
