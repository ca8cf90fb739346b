package ingest

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/decode"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeplane/edgeplane/internal/testenv"
)

// fakeMsg is an mqtt.Message that records its acknowledgement.
type fakeMsg struct {
	mqtt.Message
	id  uint16
	log *ackLog
}

func (m *fakeMsg) Ack() { m.log.add(m.id) }

type ackLog struct {
	mu  sync.Mutex
	ids []uint16
}

func (l *ackLog) add(id uint16) {
	l.mu.Lock()
	l.ids = append(l.ids, id)
	l.mu.Unlock()
}

func (l *ackLog) get() []uint16 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ids)
}

// TestAckQueueOrder: acknowledgements leave in arrival order, messages
// without readings ride with the message before them, and a full queue
// waits for room.
func TestAckQueueOrder(t *testing.T) {
	var log ackLog
	var gauge int64
	waits := new(atomic.Uint64)
	q := newAckQueue(4, func(d int64) { gauge += d }, waits)
	msg := func(id uint16) mqtt.Message { return &fakeMsg{id: id, log: &log} }
	never := func() bool { return false }

	q.waitRoom(never)
	q.ackOrQueue(msg(1)) // nothing pending: acked at once
	if got := log.get(); !slices.Equal(got, []uint16{1}) {
		t.Fatalf("acks %v", got)
	}
	q.push(1, msg(2))
	q.ackOrQueue(msg(3)) // rides with seq 1
	q.push(2, msg(4))
	q.push(3, msg(5))
	if gauge != 4 || q.len() != 4 {
		t.Fatalf("gauge %d len %d", gauge, q.len())
	}
	if n := q.through(0); n != 0 {
		t.Fatalf("through(0) acked %d", n)
	}
	if n := q.through(1); n != 2 {
		t.Fatalf("through(1) acked %d, want 2", n)
	}
	if got := log.get(); !slices.Equal(got, []uint16{1, 2, 3}) {
		t.Fatalf("acks %v", got)
	}

	// Fill the queue, then a wait ends once through makes room.
	q.waitRoom(never)
	q.push(4, msg(6))
	q.waitRoom(never)
	q.push(5, msg(7))
	done := make(chan bool)
	go func() { done <- q.waitRoom(never) }()
	testenv.CheckFor(t, 5*time.Second, time.Millisecond, func() error {
		if waits.Load() == 0 {
			return fmt.Errorf("not waiting")
		}
		return nil
	})
	select {
	case <-done:
		t.Fatal("waitRoom returned on a full queue")
	default:
	}
	q.through(3)
	if !<-done {
		t.Fatal("waitRoom aborted")
	}
	if got := log.get(); !slices.Equal(got, []uint16{1, 2, 3, 4, 5}) {
		t.Fatalf("acks %v", got)
	}
	// A wait aborts when told.
	q.push(6, msg(8))
	q.push(7, msg(9))
	if q.waitRoom(func() bool { return true }) {
		t.Fatal("waitRoom on a full queue did not abort")
	}
	q.reset()
	if gauge != 0 || q.len() != 0 {
		t.Fatalf("after reset: gauge %d len %d", gauge, q.len())
	}
	if q.through(100) != 0 {
		t.Fatal("reset messages acknowledged")
	}
}

// TestMQTTHoldAcks: with held acks and no AckThrough, a killed source's
// messages are redelivered to the next session; with AckThrough, they are
// not.
//
// It runs against Mosquitto, which redelivers unacknowledged messages when
// the session resumes as MQTT 3.1.1 (4.4) prescribes. The embedded NATS
// listener redelivers them only after its MQTT ack_wait (default 30s),
// reconnect or not.
func TestMQTTHoldAcks(t *testing.T) {
	broker := testenv.Mosquitto(t)
	pub := publisher(t, broker, "pub")
	o := MQTTOptions{Broker: broker, Topics: []string{"city/#"}, QoS: 1, ClientID: "held", HoldAcks: true}

	var c1 collector
	s1 := startMQTT(t, o, &c1)
	publish(t, pub, "city/d1/air/s1", 0, 10)
	c1.waitFor(t, 10)
	// Unacked moves after the collector has seen a message: poll.
	testenv.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if got := s1.Unacked(); got != 10 {
			return fmt.Errorf("unacked %d, want 10", got)
		}
		return nil
	})
	kill(s1)

	// Not acknowledged: the broker redelivers all ten.
	var c2 collector
	s2 := startMQTT(t, o, &c2)
	c2.waitFor(t, 10)
	v, seqs := c2.snapshot()
	wantValues(t, v, 0, 10)
	if !slices.IsSorted(seqs) || seqs[0] != 1 || seqs[9] != 10 {
		t.Fatalf("sequence numbers %v, want 1..10", seqs)
	}
	// A malformed message rides with the last delivered one.
	if tok := pub.Publish("city/d1/air/s1", 1, false, "not json"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	testenv.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if s2.Stats.Rejected[decode.ReasonMalformed].Load() != 1 {
			return fmt.Errorf("malformed message not seen")
		}
		return nil
	})
	testenv.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if got := s2.Unacked(); got != 11 {
			return fmt.Errorf("unacked %d, want 11", got)
		}
		return nil
	})
	if n := s2.AckThrough(5); n != 5 {
		t.Fatalf("AckThrough(5) acked %d", n)
	}
	if n := s2.AckThrough(10); n != 6 {
		t.Fatalf("AckThrough(10) acked %d, want 6 (with the malformed one)", n)
	}
	// The broker has the acks once a round trip after them completes.
	if tok := pub.Publish("city/d1/air/s1", 1, false, `{"v":100}`); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	c2.waitFor(t, 11)
	s2.AckThrough(s2.core.seq.Load())
	// A graceful stop: paho writes the PUBACKs queued before its
	// DISCONNECT, so the broker has them all.
	s2.Stop(250 * time.Millisecond)

	// Acknowledged: nothing comes back; the next message is the first.
	var c3 collector
	startMQTT(t, o, &c3)
	publish(t, pub, "city/d1/air/s1", 200, 201)
	c3.waitFor(t, 1)
	if v, _ := c3.snapshot(); len(v) != 1 || v[0] != 200 {
		t.Fatalf("after AckThrough the new session got %v, want [200]", v)
	}
}

// kill drops a source's connections without a DISCONNECT, as a crash
// would, then stops it.
func kill(s *MQTTSource) {
	s.quiesced.Store(true)
	for _, c := range s.conns {
		c.closed.Store(true) // no reconnect between the kill and Stop
		if wc := c.net.Load(); wc != nil {
			wc.kill()
		}
	}
	s.Stop(0)
}

// TestMQTTHoldAcksBound: with MaxUnacked reached, the connection's
// receive goroutine waits; AckThrough lets it go on.
func TestMQTTHoldAcksBound(t *testing.T) {
	broker := testenv.Mosquitto(t)
	pub := publisher(t, broker, "pub")
	o := MQTTOptions{Broker: broker, Topics: []string{"city/#"}, QoS: 1, ClientID: "bound", HoldAcks: true, MaxUnacked: 3}
	var c collector
	s := startMQTT(t, o, &c)
	publish(t, pub, "city/d1/air/s1", 0, 10)
	c.waitFor(t, 3)
	// The receive goroutine waits for room; while it does, nothing more
	// is delivered.
	testenv.CheckFor(t, 5*time.Second, time.Millisecond, func() error {
		if s.Stats.AckWaits.Load() == 0 {
			return fmt.Errorf("receive goroutine not waiting")
		}
		return nil
	})
	if got := c.len(); got != 3 {
		t.Fatalf("%d delivered with 3 held, want 3", got)
	}
	if s.Unacked() != 3 {
		t.Fatalf("unacked %d", s.Unacked())
	}
	for acked := uint64(0); c.len() < 10; {
		_, seqs := c.snapshot()
		if last := seqs[len(seqs)-1]; last > acked {
			s.AckThrough(last)
			acked = last
		}
		testenv.CheckFor(t, 5*time.Second, time.Millisecond, func() error {
			if _, ss := c.snapshot(); ss[len(ss)-1] == acked && c.len() < 10 {
				return fmt.Errorf("no progress after AckThrough(%d)", acked)
			}
			return nil
		})
	}
	v, _ := c.snapshot()
	wantValues(t, v, 0, 10)
}
