package ingest

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/decode"

	"github.com/edgeplane/edgeplane/internal/testenv"
)

func TestMQTTSubjectMapping(t *testing.T) {
	// The pairs nats-server's MQTT listener produces (mqtt.go,
	// mqttToNATSSubjectConversion).
	f := func(topic, subject string) {
		t.Helper()
		if got := string(appendNATSSubject(nil, topic)); got != subject {
			t.Errorf("subject of %q = %q, want %q", topic, got, subject)
		}
		if got := string(AppendMQTTTopic(nil, subject)); got != topic {
			t.Errorf("topic of %q = %q, want %q", subject, got, topic)
		}
	}
	f("a", "a")
	f("city/d7/air/s-1", "city.d7.air.s-1")
	f("/a/b", "/.a.b")
	f("a//b", "a./.b")
	f("a/b/", "a.b./")
	f("a.b/c", "a//b.c")
	f("v3/app1@ttn/devices/dev1/up", "v3.app1@ttn.devices.dev1.up")

	g := func(filter, subject, parent string, ok bool) {
		t.Helper()
		s, p, err := MQTTFilterToSubjects(filter)
		if (err == nil) != ok || s != subject || p != parent {
			t.Errorf("%q: %q %q %v, want %q %q ok %v", filter, s, p, err, subject, parent, ok)
		}
	}
	g("city/+/air/#", "city.*.air.>", "city.*.air", true)
	g("city/d1", "city.d1", "", true)
	g("+/x", "*.x", "", true)
	g("#", "", "", false)
	g("a/#/b", "", "", false)
	g("a/b+", "", "", false)
	g("$share/g/a", "", "", false)
	g("a b", "", "", false)
	g("", "", "", false)
}

// TestNATSSource: sensors publish to the embedded MQTT listener; the
// source takes the messages in process, with MQTT topics restored, each
// exactly once across a queue group of two subscribers.
func TestNATSSource(t *testing.T) {
	ns := testenv.NATS(t, true)
	nc, err := ns.ConnectSensors("ingest-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	var c collector
	dc := &decode.Options{TopicPattern: "city/{d}/#", Fields: []decode.Field{{Name: "v"}}, MaxSkew: -1}
	s, err := NewNATSSource(NATSOptions{Name: "nats", Conn: nc, Topics: []string{"city/#"}, Subscribers: 2}, dc, c.deliver)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(time.Second) })
	if !s.Connected() || s.Stats.Connections.Load() != 4 { // 2 × (city.> and city)
		t.Fatalf("connected %v, %d subscriptions", s.Connected(), s.Stats.Connections.Load())
	}
	pub := publisher(t, ns.MQTTAddr(), "pub")
	publish(t, pub, "city/d1/air/s-1", 0, 100)
	publish(t, pub, "city/d.2/air/s-2", 100, 200) // a '.' inside a level
	if tok := pub.Publish("city/d1/air/s-1", 0, false, `{"v":200}`); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	if tok := pub.Publish("city", 1, false, `{"v":201}`); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	if tok := pub.Publish("city/d1/bad", 1, false, `{"x":1}`); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	c.waitFor(t, 201)
	// The two queue subscribers run on their own goroutines: a message is
	// counted when it arrives and its rejection a moment later, so wait
	// for the counts to settle, not for the arrivals.
	st := &s.Stats
	testenv.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if got := st.Messages.Load(); got != 203 {
			return fmt.Errorf("%d messages", got)
		}
		if st.Rejected[decode.ReasonTopic].Load()+st.Rejected[decode.ReasonMissingField].Load()+st.Accepted.Load() < 203 {
			return fmt.Errorf("topic %d missing %d accepted %d: not every message decided yet", st.Rejected[decode.ReasonTopic].Load(),
				st.Rejected[decode.ReasonMissingField].Load(), st.Accepted.Load())
		}
		return nil
	})
	v, _ := c.snapshot()
	wantValues(t, v, 0, 201)
	c.mu.Lock()
	if c.topics["city/d1/air/s-1"] != 101 || c.topics["city/d.2/air/s-2"] != 100 {
		t.Errorf("keys %v", c.topics)
	}
	c.mu.Unlock()
	// "city" does not match topic_pattern city/{d}/#; {"x":1} has no v.
	if st.Rejected[decode.ReasonTopic].Load() != 1 || st.Rejected[decode.ReasonMissingField].Load() != 1 || st.Accepted.Load() != 201 || st.Dropped.Load() != 0 {
		t.Errorf("topic %d missing %d accepted %d dropped %d", st.Rejected[decode.ReasonTopic].Load(),
			st.Rejected[decode.ReasonMissingField].Load(), st.Accepted.Load(), st.Dropped.Load())
	}
	s.Stop(time.Second)
	if s.Connected() {
		t.Error("connected after Stop")
	}
}

// TestNATSSourceDropsCounted: messages a slow subscription drops are
// counted, so received + dropped accounts for every message published.
func TestNATSSourceDropsCounted(t *testing.T) {
	ns := testenv.NATS(t, false)
	nc, err := ns.Connect("ingest-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	release := make(chan struct{})
	var c collector
	s, err := NewNATSSource(NATSOptions{Name: "slow", Conn: nc, Topics: []string{"city/#"}, PendingMsgs: 10, Logger: quietLog},
		valueConfig(), func(b *decode.Batch) { <-release; c.deliver(b) })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(time.Second) })
	pub, err := ns.Connect("pub")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)
	const n = 100
	for i := range n {
		if err := pub.Publish("city.d1.air.s1", []byte(`{"v":`+strconv.Itoa(i)+`}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Flush(); err != nil {
		t.Fatal(err)
	}
	testenv.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		s.Connected() // refreshes Dropped
		if s.Stats.Dropped.Load() == 0 {
			return fmt.Errorf("nothing dropped yet")
		}
		return nil
	})
	close(release)
	testenv.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		s.Connected()
		if got := s.Stats.Messages.Load() + s.Stats.Dropped.Load(); got != n {
			return fmt.Errorf("messages %d + dropped %d != %d", s.Stats.Messages.Load(), s.Stats.Dropped.Load(), n)
		}
		// A message is counted before it is decoded and delivered, so the
		// last one may still be on its way.
		if uint64(c.len()) != s.Stats.Messages.Load() {
			return fmt.Errorf("delivered %d of %d received", c.len(), s.Stats.Messages.Load())
		}
		return nil
	})
}
