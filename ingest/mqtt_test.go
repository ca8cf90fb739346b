package ingest

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/decode"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/natsd"
)

// valueConfig decodes {"v": N} with the topic as key.
func valueConfig() *decode.Options {
	return &decode.Options{Fields: []decode.Field{{Name: "v"}}, MaxSkew: -1}
}

// collector records the values and sequence numbers delivered to it.
type collector struct {
	mu     sync.Mutex
	values []float64
	seqs   []uint64
	topics map[string]int
}

func (c *collector) deliver(b *decode.Batch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range b.Readings {
		c.values = append(c.values, b.Readings[i].Value)
		c.seqs = append(c.seqs, b.Seq)
		if c.topics == nil {
			c.topics = map[string]int{}
		}
		c.topics[string(b.Key(i))]++
	}
}

func (c *collector) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.values)
}

func (c *collector) snapshot() ([]float64, []uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]float64(nil), c.values...), append([]uint64(nil), c.seqs...)
}

func (c *collector) waitFor(t testing.TB, n int) {
	t.Helper()
	testenv.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if got := c.len(); got < n {
			return fmt.Errorf("%d readings delivered, want %d", got, n)
		}
		return nil
	})
}

// publisher connects a paho client to broker for publishing.
func publisher(t testing.TB, broker, id string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID(id).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect %s: %v", broker, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// publish publishes {"v": i} for i in [from, to) with QoS 1 and waits for
// every PUBACK.
func publish(t testing.TB, c mqtt.Client, topic string, from, to int) {
	t.Helper()
	toks := make([]mqtt.Token, 0, to-from)
	for i := from; i < to; i++ {
		toks = append(toks, c.Publish(topic, 1, false, `{"v":`+strconv.Itoa(i)+`}`))
	}
	for _, tok := range toks {
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
}

func startMQTT(t testing.TB, o MQTTOptions, c *collector) *MQTTSource {
	t.Helper()
	if o.Name == "" {
		o.Name = "test"
	}
	s, err := NewMQTTSource(o, valueConfig(), c.deliver)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		s.Stop(0)
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(0) })
	return s
}

// wantValues checks that got holds each of from..to-1 exactly once.
func wantValues(t testing.TB, got []float64, from, to int) {
	t.Helper()
	sorted := append([]float64(nil), got...)
	sort.Float64s(sorted)
	if len(sorted) != to-from {
		t.Fatalf("got %d values, want %d (%v…)", len(sorted), to-from, sorted[:min(len(sorted), 20)])
	}
	for i, v := range sorted {
		if v != float64(from+i) {
			t.Fatalf("value %d = %v, want %d: a message was lost or duplicated", i, v, from+i)
		}
	}
}

// TestMQTTPersistentSession: QoS 1 messages published while a source with
// a fixed client id and clean_session false is down reach it after its
// restart.
func TestMQTTPersistentSession(t *testing.T) {
	// If the broker has not yet seen the first session's DISCONNECT when
	// the next messages arrive, it hands them to the dead connection and
	// redelivers them only after its ack wait: keep that short.
	ns, err := natsd.Start(natsd.Options{StoreDir: t.TempDir(), MQTTListen: "127.0.0.1:0", MQTTAckWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	pub := publisher(t, ns.MQTTAddr(), "pub")
	o := MQTTOptions{Broker: ns.MQTTAddr(), Topics: []string{"city/#"}, QoS: 1, ClientID: "persist"}

	var c1 collector
	s1 := startMQTT(t, o, &c1)
	publish(t, pub, "city/d1/air/s1", 0, 10)
	c1.waitFor(t, 10)
	s1.Stop(100 * time.Millisecond)

	publish(t, pub, "city/d1/air/s1", 10, 30)

	var c2 collector
	s2 := startMQTT(t, o, &c2)
	c2.waitFor(t, 20)
	v, _ := c2.snapshot()
	wantValues(t, v, 10, 30)
	if s2.Stats.Accepted.Load() != 20 || s2.Stats.Records.Load() != 20 || s2.Stats.RejectedTotal() != 0 {
		t.Errorf("stats: accepted %d records %d rejected %d", s2.Stats.Accepted.Load(), s2.Stats.Records.Load(), s2.Stats.RejectedTotal())
	}
}

// TestMQTTReconnectAfterBrokerRestart: the source reconnects and
// resubscribes after the broker goes away and comes back on the same
// port with the same store.
func TestMQTTReconnectAfterBrokerRestart(t *testing.T) {
	dir, addr := t.TempDir(), testenv.FreeAddr(t)
	ns := testenv.NATSMQTTAt(t, dir, addr)
	o := MQTTOptions{Broker: ns.MQTTAddr(), Topics: []string{"city/#"}, QoS: 1, ClientID: "restart",
		MaxReconnectInterval: 200 * time.Millisecond, KeepAlive: 2 * time.Second}
	var c collector
	s := startMQTT(t, o, &c)
	pub := publisher(t, ns.MQTTAddr(), "pub1")
	publish(t, pub, "city/d1/air/s1", 0, 5)
	c.waitFor(t, 5)

	ns.Shutdown()
	testenv.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if s.Connected() {
			return fmt.Errorf("still connected after broker shutdown")
		}
		return nil
	})
	ns = testenv.NATSMQTTAt(t, dir, addr)
	testenv.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		if !s.Connected() {
			return fmt.Errorf("not reconnected")
		}
		return nil
	})
	pub2 := publisher(t, ns.MQTTAddr(), "pub2")
	publish(t, pub2, "city/d1/air/s1", 5, 15)
	c.waitFor(t, 15)
	v, _ := c.snapshot()
	wantValues(t, v, 0, 15)
	if s.Stats.ConnLost.Load() < 1 || s.Stats.Connects.Load() < 2 {
		t.Errorf("connects %d, lost %d", s.Stats.Connects.Load(), s.Stats.ConnLost.Load())
	}
}

// TestMQTTSharedSubscription: two connections on one shared subscription
// (Mosquitto: the embedded NATS listener has no $share) receive every
// message exactly once in total.
func TestMQTTSharedSubscription(t *testing.T) {
	broker := testenv.Mosquitto(t)
	o := MQTTOptions{Broker: broker, Topics: []string{"$share/edge/city/#"}, QoS: 1, ClientID: "shared",
		Connections: 2, CleanSession: true}
	var c collector
	s := startMQTT(t, o, &c)
	if ids := s.ClientIDs(); len(ids) != 2 || ids[0] != "shared-0" || ids[1] != "shared-1" {
		t.Fatalf("client ids %v", ids)
	}
	pub := publisher(t, broker, "pub")
	const n = 400
	publish(t, pub, "city/d1/air/s1", 0, n)
	c.waitFor(t, n)
	v, _ := c.snapshot()
	wantValues(t, v, 0, n)
	if got := s.Stats.Messages.Load(); got != n {
		t.Errorf("messages %d, want %d", got, n)
	}
}

// TestMQTTSplitTopics: with split_topics, two connections share the
// filters and together receive each message once (the embedded listener
// has no shared subscriptions).
func TestMQTTSplitTopics(t *testing.T) {
	ns := testenv.NATS(t, true)
	o := MQTTOptions{Broker: ns.MQTTAddr(), Topics: []string{"city/d1/#", "city/d2/#"}, QoS: 1, ClientID: "split",
		Connections: 2, SplitTopics: true}
	var c collector
	startMQTT(t, o, &c)
	pub := publisher(t, ns.MQTTAddr(), "pub")
	publish(t, pub, "city/d1/air/s1", 0, 50)
	publish(t, pub, "city/d2/air/s1", 50, 100)
	c.waitFor(t, 100)
	v, _ := c.snapshot()
	wantValues(t, v, 0, 100)
}

// TestMQTTOptionsValidate covers the option checks.
func TestMQTTOptionsValidate(t *testing.T) {
	f := func(o MQTTOptions, ok bool) {
		t.Helper()
		if o.Broker == "" {
			o.Broker = "tcp://127.0.0.1:1"
		}
		_, err := NewMQTTSource(o, valueConfig(), func(*decode.Batch) {})
		if (err == nil) != ok {
			t.Errorf("%+v: err %v, want ok %v", o, err, ok)
		}
	}
	f(MQTTOptions{Topics: []string{"a/#"}, ClientID: "x"}, true)
	f(MQTTOptions{Topics: []string{"a/#"}}, false) // persistent session without id
	f(MQTTOptions{Topics: []string{"a/#"}, CleanSession: true}, true)
	f(MQTTOptions{Topics: []string{"a/#"}, ClientID: "x", Connections: 2}, false)
	f(MQTTOptions{Topics: []string{"$share/g/a/#"}, ClientID: "x", Connections: 2}, true)
	f(MQTTOptions{Topics: []string{"a/#"}, ClientID: "x", Connections: 2, SplitTopics: true}, false)
	f(MQTTOptions{Topics: []string{"a/#", "b/#"}, ClientID: "x", Connections: 2, SplitTopics: true}, true)
	f(MQTTOptions{Topics: []string{"a/#"}, ClientID: "x", HoldAcks: true}, false) // qos 0
	f(MQTTOptions{Topics: []string{"a/#"}, ClientID: "x", HoldAcks: true, QoS: 1}, true)
	f(MQTTOptions{Topics: []string{"a/#"}, ClientID: "x", HoldAcks: true, QoS: 1, CleanSession: true}, false)
	f(MQTTOptions{Topics: []string{"a/#"}, ClientID: "x", KeepAlive: 10 * time.Second, StaleTimeout: 15 * time.Second}, false)
	f(MQTTOptions{Topics: []string{"a/#"}, ClientID: "x", QoS: 2}, false)
}

// TestMQTTWatchdog: a connection that receives nothing for StaleTimeout
// is closed and re-established, its subscriptions restored. (To the
// watchdog a frozen peer and an idle one look alike — no byte read — so
// an idle connection with a bound far below the keep-alive exercises the
// same path.)
func TestMQTTWatchdog(t *testing.T) {
	ns := testenv.NATS(t, true)
	s, err := NewMQTTSource(MQTTOptions{Name: "wd", Broker: ns.MQTTAddr(), Topics: []string{"city/#"}, QoS: 1,
		ClientID: "wd", MaxReconnectInterval: 100 * time.Millisecond}, valueConfig(), new(collector).deliver)
	if err != nil {
		t.Fatal(err)
	}
	var c collector
	s.core.deliver = c.deliver
	s.staleMs.Store(200) // below the keep-alive, for the test only
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(0) })
	testenv.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if s.Stats.Stale.Load() < 1 || s.Stats.ConnLost.Load() < 1 || s.Stats.Connects.Load() < 2 || !s.Connected() {
			return fmt.Errorf("stale %d, lost %d, connects %d, connected %v", s.Stats.Stale.Load(),
				s.Stats.ConnLost.Load(), s.Stats.Connects.Load(), s.Connected())
		}
		return nil
	})
	s.staleMs.Store(time.Hour.Milliseconds()) // stop closing it; the watchdog reads it each tick
	pub := publisher(t, ns.MQTTAddr(), "pub")
	publish(t, pub, "city/d1/air/s1", 0, 5)
	c.waitFor(t, 5)
}

// TestMQTTLateLostHandler: paho starts the lost handler and the reconnect
// on goroutines of their own, so the handler of a lost connection can run
// after the next connection subscribed. It must not mark that connection
// down: CI saw a reconnected source report not connected until its next
// reconnect. The test breaks the connection, waits for the reconnect, and
// then runs the lost handler as a late goroutine would.
func TestMQTTLateLostHandler(t *testing.T) {
	ns := testenv.NATS(t, true)
	s := startMQTT(t, MQTTOptions{Broker: ns.MQTTAddr(), Topics: []string{"city/#"}, QoS: 1,
		ClientID: "late-lost", MaxReconnectInterval: 100 * time.Millisecond}, new(collector))
	c := s.conns[0]
	first := c.net.Load()
	first.kill()
	testenv.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if s.Stats.Connects.Load() < 2 || c.net.Load() == first || !s.Connected() {
			return fmt.Errorf("connects %d, connected %v", s.Stats.Connects.Load(), s.Connected())
		}
		return nil
	})
	c.onLost(c.client, errConnKilled) // the first connection's handler, late
	if !s.Connected() || s.Stats.Connections.Load() != 1 {
		t.Fatalf("after a late lost handler: connected %v, connections %d; want true, 1",
			s.Stats.Connected.Load(), s.Stats.Connections.Load())
	}
	// The handler of the connection in use still counts it down (unless
	// a reconnect has subscribed on a new one already).
	second := c.net.Load()
	second.kill()
	c.onLost(c.client, errConnKilled)
	if n := s.Stats.Connections.Load(); n != 0 && c.net.Load() == second {
		t.Fatalf("connections %d after the subscribed connection was lost", n)
	}
	testenv.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if !s.Connected() {
			return fmt.Errorf("not reconnected")
		}
		return nil
	})
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
