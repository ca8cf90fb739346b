package ingest

import (
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Held acknowledgements (MQTTOptions.HoldAcks).
//
// With paho's auto-ack off, a QoS 1 message is acknowledged (PUBACK) only
// when the pipeline says its readings are safely persisted, by calling
// AckThrough with the highest sequence number whose readings all are.
// MQTT 3.1.1 (4.6) requires PUBACKs in the order the PUBLISHes arrived on
// a connection, so each connection keeps its unacknowledged messages in
// arrival order in an ackQueue, and AckThrough acknowledges a prefix of
// each queue.
//
// A message that yields no reading (rejected, or QoS 0) needs no
// persistence but may not overtake an earlier pending one: it is
// acknowledged at once when its connection's queue is empty, else queued
// behind the tail with the tail's sequence number, so it leaves with it.
//
// The queue is bounded by MaxUnacked. When it is full the paho handler —
// paho's single receive goroutine of that connection — waits for
// AckThrough to make room, which stops reading from that connection; the
// broker then holds further messages (its own in-flight limit usually
// stops it before). While the handler waits, paho reads no packet, not
// even a ping response, so a wait longer than KeepAlive+PingTimeout ends
// in a reconnect: MaxUnacked must cover the messages that arrive while
// their readings wait in open windows. A message that arrives while the
// connection is down (or after Quiesce) is abandoned: neither delivered
// nor acknowledged, the broker redelivers it to the next session.
//
// Acknowledgements are tied to the network connection a message came on:
// paho drops the PUBACK of a message from an earlier connection, and the
// broker redelivers those (with a persistent session) on the new one,
// where they get new sequence numbers. Readings delivered before such a
// loss are therefore delivered again: the guarantee is at-least-once.

// pendingAck is one message awaiting acknowledgement.
type pendingAck struct {
	seq uint64
	msg mqtt.Message
}

// ackQueue holds one connection's unacknowledged messages in arrival
// order. push, ackOrQueue, sameEpoch and waitRoom are called by the
// connection's receive goroutine only; through and reset from any
// goroutine.
//
// Lock order: ackMu before mu. mu is never held while calling into paho.
type ackQueue struct {
	ackMu  sync.Mutex // serializes acknowledgers, so PUBACKs leave in order
	popped []pendingAck

	mu    sync.Mutex
	buf   []pendingAck // ring of len MaxUnacked
	head  int
	n     int
	epoch any           // the network connection the queued messages came on
	space chan struct{} // signalled when room is made
	gauge func(delta int64)
	waits *atomic.Uint64 // counts waits for room
}

func newAckQueue(max int, gauge func(int64), waits *atomic.Uint64) *ackQueue {
	return &ackQueue{buf: make([]pendingAck, max), space: make(chan struct{}, 1), gauge: gauge, waits: waits}
}

// sameEpoch makes conn the queue's connection, dropping what an earlier
// connection left: paho would drop those acknowledgements anyway.
func (q *ackQueue) sameEpoch(conn any) {
	q.mu.Lock()
	if q.epoch != conn {
		q.dropLocked()
		q.epoch = conn
	}
	q.mu.Unlock()
}

// waitRoom waits until the queue has room, polling abort every 50 ms; it
// returns false when abort returned true first.
func (q *ackQueue) waitRoom(abort func() bool) bool {
	var t *time.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		q.mu.Lock()
		ok := q.n < len(q.buf)
		q.mu.Unlock()
		if ok {
			return true
		}
		if abort() {
			return false
		}
		if t == nil {
			q.waits.Add(1)
			t = time.NewTimer(50 * time.Millisecond)
		} else {
			t.Reset(50 * time.Millisecond)
		}
		select {
		case <-q.space:
		case <-t.C:
		}
	}
}

// ackOrQueue handles a message that needs no persistence: it is
// acknowledged now when nothing is pending on its connection (ackMu keeps
// it behind acknowledgements being sent), else queued behind the tail with
// the tail's sequence number. The caller made room with waitRoom.
func (q *ackQueue) ackOrQueue(m mqtt.Message) {
	q.ackMu.Lock()
	defer q.ackMu.Unlock()
	q.mu.Lock()
	if q.n == 0 {
		q.mu.Unlock()
		m.Ack()
		return
	}
	seq := q.buf[(q.head+q.n-1)%len(q.buf)].seq
	q.buf[(q.head+q.n)%len(q.buf)] = pendingAck{seq: seq, msg: m}
	q.n++
	q.mu.Unlock()
	q.gauge(1)
}

// push queues m with seq; the caller made room with waitRoom.
func (q *ackQueue) push(seq uint64, m mqtt.Message) {
	q.mu.Lock()
	q.buf[(q.head+q.n)%len(q.buf)] = pendingAck{seq: seq, msg: m}
	q.n++
	q.mu.Unlock()
	q.gauge(1)
}

// through acknowledges, in order, every queued message with a sequence
// number ≤ seq, and returns how many.
func (q *ackQueue) through(seq uint64) int {
	q.ackMu.Lock()
	defer q.ackMu.Unlock()
	q.mu.Lock()
	for q.n > 0 && q.buf[q.head].seq <= seq {
		q.popped = append(q.popped, q.buf[q.head])
		q.buf[q.head] = pendingAck{}
		q.head = (q.head + 1) % len(q.buf)
		q.n--
	}
	q.mu.Unlock()
	n := len(q.popped)
	if n == 0 {
		return 0
	}
	q.signal()
	q.gauge(-int64(n))
	for i := range q.popped {
		q.popped[i].msg.Ack()
		q.popped[i] = pendingAck{}
	}
	q.popped = q.popped[:0]
	return n
}

// reset drops every queued message without acknowledging it.
func (q *ackQueue) reset() {
	q.mu.Lock()
	q.dropLocked()
	q.mu.Unlock()
}

func (q *ackQueue) dropLocked() {
	if q.n == 0 {
		return
	}
	for i := 0; i < q.n; i++ {
		q.buf[(q.head+i)%len(q.buf)] = pendingAck{}
	}
	q.gauge(-int64(q.n))
	q.head, q.n = 0, 0
	q.signal()
}

func (q *ackQueue) signal() {
	select {
	case q.space <- struct{}{}:
	default:
	}
}

// len returns the number of queued messages.
func (q *ackQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}
