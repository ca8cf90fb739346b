package ingest

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/edgeplane/edgeplane/decode"
	"github.com/edgeplane/edgeplane/internal/ratelog"
)

// Source is what the wiring needs of every kind of source (MQTTSource,
// NATSSource, WSSource).
type Source interface {
	// Name names the source in logs and metrics.
	Name() string
	// Start connects, subscribes or listens. A source that connects to a
	// broker keeps retrying in the background after an error.
	Start(ctx context.Context) error
	// Stop ends the source, waiting up to quiesce for in-flight work.
	// It is idempotent.
	Stop(quiesce time.Duration)
	// Connected reports whether the source is fully up (readiness).
	Connected() bool
	// SourceStats returns the source's counters, for metrics.
	SourceStats() *SourceStats
}

// Acker is implemented by sources that can hold broker acknowledgements
// until readings are persisted (MQTTSource with HoldAcks).
type Acker interface {
	// AckThrough acknowledges every held message whose readings carry a
	// sequence number (decode.Batch.Seq) ≤ seq, in arrival order.
	AckThrough(seq uint64) int
}

var (
	_ Source = (*MQTTSource)(nil)
	_ Source = (*NATSSource)(nil)
	_ Source = (*WSSource)(nil)
	_ Acker  = (*MQTTSource)(nil)
)

// Deliver receives the readings of one message (or WebSocket frame): the
// readings of every accepted record in it, and its sequence number in
// b.Seq. It is called on the source's receive goroutine (one per
// connection or subscription, so calls from different connections of one
// source run concurrently); b is valid only during the call. It must not
// block for long: the wiring pushes into rings whose policy decides what
// happens when they are full.
type Deliver func(b *decode.Batch)

// DeadLetter receives a rejected record with its reason, for a bounded
// dead-letter stream. It is called on the receive goroutine and must not
// block; topic and payload are valid only during the call (copy them to
// keep them). payload is the record's raw bytes, or the whole message when
// it was refused as a whole; nil for a WebSocket message refused as
// too_large from its frame header (it was never read). Messages refused as
// rate_limited are not dead-lettered.
type DeadLetter func(source string, reason decode.Reason, topic string, payload []byte)

// SourceStats count what a source received; safe for concurrent reads.
//
// Accounting: every message received ends in exactly one of: decoded —
// each of its records then counted once in Accepted or Rejected[reason]
// (a message refused as a whole counts as one rejected record) — or
// Abandoned (held acks only: left unacknowledged for the broker to
// redeliver). Messages lost before they reached the source are Dropped.
// Readings refused downstream (ring policy, series limit) are counted by
// the pipeline. So Records == Accepted + RejectedTotal(), and Messages ==
// payloads decoded + Abandoned.
type SourceStats struct {
	Messages atomic.Uint64 // messages (MQTT messages, NATS messages, WebSocket frames) received
	Records  atomic.Uint64 // records in them: Accepted + RejectedTotal
	Accepted atomic.Uint64 // records that yielded readings
	Readings atomic.Uint64 // readings delivered
	Rejected [decode.NumReasons]atomic.Uint64
	// Abandoned counts messages neither delivered nor acknowledged: with
	// held acks, ones that arrived after Quiesce or while the connection
	// was lost waiting for room among the unacknowledged. The broker
	// redelivers them to the next session (CleanSession false).
	Abandoned atomic.Uint64
	// Dropped counts messages lost before decoding: a NATS subscription's
	// slow-consumer drops.
	Dropped atomic.Uint64
	// DeadLettered counts records passed to the DeadLetter callback.
	DeadLettered atomic.Uint64

	// Connected is true while every connection (or subscription, or the
	// WebSocket listener) of the source is up.
	Connected atomic.Bool
	// Connections is the number of connections up: broker connections,
	// NATS subscriptions, or open WebSocket clients.
	Connections atomic.Int64
	Connects    atomic.Uint64 // successful connections, reconnects included
	ConnLost    atomic.Uint64 // connections lost (WebSocket: clients closed by the server for a violation)
	// Stale counts connections the watchdog closed: nothing received,
	// not even a ping response, within MQTTOptions.StaleTimeout.
	Stale atomic.Uint64
	// DialFailed counts broker dials that failed (MQTT; paho retries).
	DialFailed atomic.Uint64
	// Unacked is the number of messages held unacknowledged (held acks).
	Unacked atomic.Int64
	// AckWaits counts the times a receive goroutine found MaxUnacked
	// messages held and waited for AckThrough (held acks).
	AckWaits atomic.Uint64

	// RejectTap, when set, sees every rejected record (the gateway's live
	// tap sets it while a tap wants rejects): one atomic load per
	// rejection when unset. It lives here because every source shares its
	// stats with its receive goroutines.
	RejectTap atomic.Pointer[RejectTap]
}

// RejectTap receives a rejected record: the source, its reason, topic and
// raw bytes (valid only during the call), and the decoder's error (may be
// nil). It must not block.
type RejectTap func(source string, reason decode.Reason, topic string, raw []byte, err error)

// RejectedTotal sums Rejected over all reasons.
func (s *SourceStats) RejectedTotal() uint64 {
	var n uint64
	for i := range s.Rejected {
		n += s.Rejected[i].Load()
	}
	return n
}

// sourceCore is what the connections of one source share: its stats,
// callbacks, sequence counter and reject log. Safe for concurrent use.
type sourceCore struct {
	name       string
	deliver    Deliver
	deadLetter DeadLetter
	log        *slog.Logger
	rejects    rejectLog
	seq        atomic.Uint64
	stats      *SourceStats
}

func newSourceCore(name string, deliver Deliver, dl DeadLetter, log *slog.Logger, interval time.Duration, st *SourceStats) *sourceCore {
	if log == nil {
		log = slog.Default()
	}
	if interval <= 0 {
		interval = 10 * time.Second
	}
	log = log.With("source", name)
	return &sourceCore{name: name, deliver: deliver, deadLetter: dl, log: log,
		rejects: rejectLog{rl: ratelog.New(log, interval)}, stats: st}
}

// receiver decodes and accounts the messages of one receive goroutine. It
// is owned by that goroutine.
type receiver struct {
	c      *sourceCore
	dec    *decode.Decoder
	batch  decode.Batch
	reject decode.RejectFunc // r.onReject, bound once
	topic  string            // of the message being decoded, for onReject
	now    int64
}

func newReceiver(c *sourceCore, dc *decode.Options) (*receiver, error) {
	dec, err := decode.NewDecoder(dc)
	if err != nil {
		return nil, err
	}
	r := &receiver{c: c, dec: dec}
	r.reject = r.onReject
	return r, nil
}

// decode decodes one message into r.batch, counting it and its records,
// and reports whether it yielded readings. The caller then calls deliver
// (or, with held acks, assigns the sequence number first).
func (r *receiver) decode(topic string, payload []byte, now int64) bool {
	st := r.c.stats
	st.Messages.Add(1)
	r.batch.Reset()
	r.topic, r.now = topic, now
	acc, rej := r.dec.DecodeRecords(topic, payload, now, &r.batch, r.reject)
	r.topic = ""
	st.Records.Add(uint64(acc + rej))
	if acc > 0 {
		st.Accepted.Add(uint64(acc))
	}
	return acc > 0
}

// deliver hands r.batch, which decode filled, to the source's Deliver
// with the next sequence number, and returns it.
func (r *receiver) deliver() uint64 {
	seq := r.c.seq.Add(1)
	r.deliverSeq(seq)
	return seq
}

// deliverSeq is deliver with a sequence number the caller took from
// r.c.seq.
func (r *receiver) deliverSeq(seq uint64) {
	r.batch.Seq = seq
	r.c.stats.Readings.Add(uint64(len(r.batch.Readings)))
	r.c.deliver(&r.batch)
}

// handle is decode then deliver, for sources without held acks.
func (r *receiver) handle(topic string, payload []byte, now int64) {
	if r.decode(topic, payload, now) {
		r.deliver()
	}
}

func (r *receiver) onReject(reason decode.Reason, err error, raw []byte) {
	r.c.rejected(reason, r.topic, raw, r.now, err)
}

// rejected counts and logs one rejected record and dead-letters it.
func (c *sourceCore) rejected(reason decode.Reason, topic string, raw []byte, now int64, err error) {
	c.stats.Rejected[reason].Add(1)
	c.rejects.note(now, reason, topic, err)
	if t := c.stats.RejectTap.Load(); t != nil {
		(*t)(c.name, reason, topic, raw, err)
	}
	if c.deadLetter != nil && reason != decode.ReasonRateLimited {
		c.stats.DeadLettered.Add(1)
		c.deadLetter(c.name, reason, topic, raw)
	}
}

// rejectLog logs a rejection at most once per interval per reason, with
// how many were suppressed since the last line (ratelog's rule, keyed by
// the reason). The attributes are built only for a line written: a
// suppressed rejection does not allocate.
type rejectLog struct {
	rl *ratelog.Logger
}

func (r *rejectLog) note(nowMs int64, reason decode.Reason, topic string, err error) {
	n, ok := r.rl.AllowAt(reason.String(), nowMs)
	if !ok {
		return
	}
	r.rl.Slog().Warn("message rejected", "reason", reason.String(), "topic", strings.Clone(topic), "err", err, ratelog.SuppressedKey, n)
}
