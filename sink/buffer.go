package sink

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplane/edgeplane/record"
)

// OnFull says what the buffer does when it reaches MaxBytes.
type OnFull uint8

const (
	// EvictOldest deletes the oldest frames to make room: the newest data
	// is kept. Dropped frames are counted.
	EvictOldest OnFull = iota
	// PushBack refuses new frames: the writer retries, which stalls the
	// operators, fills the rings and applies their policy upstream.
	PushBack
)

var onFullNames = [...]string{"drop_oldest", "push_back"}

// ParseOnFull parses "drop_oldest" (EvictOldest) or "push_back".
func ParseOnFull(s string) (OnFull, error) {
	i, err := record.ParseEnum("on_full policy", s, onFullNames[:])
	return OnFull(i), err
}

func (o OnFull) String() string { return record.EnumName(o, onFullNames[:], "OnFull") }

// EnumValues lists the names ParseOnFull accepts.
func (OnFull) EnumValues() []string { return onFullNames[:] }

// MarshalText returns the policy's name.
func (o OnFull) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText parses a policy's name.
func (o *OnFull) UnmarshalText(b []byte) error {
	v, err := ParseOnFull(string(b))
	*o = v
	return err
}

// BufferOptions configure the JetStream stream that buffers frames.
type BufferOptions struct {
	// Stream is the stream name. Default "EDGEPLANE_AGG".
	Stream string
	// SubjectPrefix roots the subjects the stream captures. Default
	// "edgeplane.agg": the stream takes "edgeplane.agg.>", and writers
	// publish to "edgeplane.agg.<pipeline>.<kind>.<items>".
	SubjectPrefix string
	// MaxBytes bounds the stream's size on disk. Default 1 GiB.
	MaxBytes int64
	// MaxAge drops frames older than this. Default 7 days; 0 keeps the
	// default, negative means no limit.
	MaxAge time.Duration
	// OnFull is the policy at MaxBytes. Default EvictOldest.
	OnFull OnFull
	// DuplicateWindow is how long JetStream remembers message ids to drop
	// a retried publish. Default 2 minutes.
	DuplicateWindow time.Duration
}

func (o *BufferOptions) setDefaults() {
	if o.Stream == "" {
		o.Stream = "EDGEPLANE_AGG"
	}
	if o.SubjectPrefix == "" {
		o.SubjectPrefix = "edgeplane.agg"
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 1 << 30
	}
	switch {
	case o.MaxAge == 0:
		o.MaxAge = 7 * 24 * time.Hour
	case o.MaxAge < 0:
		o.MaxAge = 0
	}
	if o.DuplicateWindow <= 0 {
		o.DuplicateWindow = 2 * time.Minute
	}
}

// Buffer is the JetStream stream that holds frames until the forwarder has
// delivered them to Kafka. It uses work-queue retention: a frame the
// forwarder acks is deleted, so the stream's size is the backlog.
//
// Accounting. Every frame is published to a subject that names its kind
// and item count, <prefix>.<pipeline>.<kind>.<n> (see frameSubject), so the
// server's per-subject message counts say exactly how many aggregates and
// late events the stream holds, across restarts, without reading a frame.
// A frame leaves the stream either because the forwarder acked it
// (counted here as forwarded) or because a limit removed it: drop_oldest
// at MaxBytes, or MaxAge. So, since OpenBuffer,
//
//	dropped = held at open + published − forwarded − held now
//
// for frames and for items. State computes it while holding mu exclusively,
// and publishes and acks hold mu shared around the server round trip and
// their counter update, so the snapshot sees no operation half-counted.
type Buffer struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	opts   BufferOptions

	mu        sync.RWMutex // see Accounting
	heldStart counts       // what the stream held at OpenBuffer
	published counts       // frames stored by this process (not duplicates)
	forwarded counts       // frames acked (or terminated) by the forwarder

	duplicates atomic.Uint64 // publishes JetStream recognised as retries
	full       atomic.Uint64 // publishes refused because the stream was full
	store      storeWatch    // the store's health (see WatchStore)
}

// Frame kinds: the subject token that says what a frame's items are.
const (
	kindAgg  = "agg"
	kindLate = "late"
)

// counts are frames and items of each kind; safe for concurrent use.
type counts struct {
	frames atomic.Uint64
	aggs   atomic.Uint64
	late   atomic.Uint64
}

func (c *counts) add(kind string, n uint64) {
	c.frames.Add(1)
	switch kind {
	case kindAgg:
		c.aggs.Add(n)
	case kindLate:
		c.late.Add(n)
	}
}

// frameSubject returns the subject of a frame of n items of kind.
func (b *Buffer) frameSubject(pipeline, kind string, n int) string {
	return b.opts.SubjectPrefix + "." + pipeline + "." + kind + "." + strconv.Itoa(n)
}

// subjectItems parses the kind and item count from a frame subject. A
// subject without them (frames of an older version) yields "", 0.
func subjectItems(subject string) (kind string, n uint64) {
	i := strings.LastIndexByte(subject, '.')
	if i < 0 {
		return "", 0
	}
	n, err := strconv.ParseUint(subject[i+1:], 10, 32)
	if err != nil {
		return "", 0
	}
	rest := subject[:i]
	j := strings.LastIndexByte(rest, '.')
	kind = rest[j+1:]
	if kind != kindAgg && kind != kindLate {
		return "", 0
	}
	return kind, n
}

// OpenBuffer creates or updates the stream on the server nc is connected to.
func OpenBuffer(ctx context.Context, nc *nats.Conn, o BufferOptions) (*Buffer, error) {
	o.setDefaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("sink: jetstream: %w", err)
	}
	discard := jetstream.DiscardOld
	if o.OnFull == PushBack {
		discard = jetstream.DiscardNew
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        o.Stream,
		Description: "edgeplane aggregates waiting for Kafka",
		Subjects:    []string{o.SubjectPrefix + ".>"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		MaxBytes:    o.MaxBytes,
		MaxAge:      o.MaxAge,
		Discard:     discard,
		Duplicates:  o.DuplicateWindow,
		Replicas:    1,
	})
	if err != nil {
		return nil, fmt.Errorf("sink: create stream %s: %w", o.Stream, err)
	}
	b := &Buffer{js: js, stream: st, opts: o}
	b.store.kick = make(chan struct{}, 1)
	held, err := b.held(ctx)
	if err != nil {
		return nil, err
	}
	b.heldStart.frames.Store(held.frames)
	b.heldStart.aggs.Store(held.aggs)
	b.heldStart.late.Store(held.late)
	return b, nil
}

// heldCounts is what the stream holds, by the subjects' counts.
type heldCounts struct {
	frames, aggs, late, bytes uint64
	firstTime                 time.Time
}

func (b *Buffer) held(ctx context.Context) (heldCounts, error) {
	info, err := b.stream.Info(ctx, jetstream.WithSubjectFilter(b.opts.SubjectPrefix+".>"))
	if err != nil {
		return heldCounts{}, fmt.Errorf("sink: stream %s info: %w", b.opts.Stream, err)
	}
	h := heldCounts{frames: info.State.Msgs, bytes: info.State.Bytes, firstTime: info.State.FirstTime}
	for subj, msgs := range info.State.Subjects {
		switch kind, n := subjectItems(subj); kind {
		case kindAgg:
			h.aggs += msgs * n
		case kindLate:
			h.late += msgs * n
		}
	}
	return h, nil
}

// Subject returns the subject a pipeline's frames are published to.
func (b *Buffer) Subject(pipeline string) string { return b.opts.SubjectPrefix + "." + pipeline }

// ErrBufferFull is returned by Publish when the stream refused a frame
// because it is full and the policy is PushBack.
var ErrBufferFull = errors.New("sink: buffer full")

// JetStream error codes for a stream that refused a message for its limits
// (DiscardNew at MaxBytes) or for the server's storage limit.
const (
	errCodeStoreFailed jetstream.ErrorCode = 10077
	errCodeResources   jetstream.ErrorCode = 10047
)

// FrameID returns the deterministic message id of a frame: a retried
// publish of the same bytes carries the same id and is stored once.
func FrameID(frame []byte) string {
	sum := sha256.Sum256(frame)
	return hex.EncodeToString(sum[:16])
}

// Publish stores one frame and waits for JetStream's acknowledgement.
// subject should come from Subject or be below it; frames the Writer and
// LateWriter publish use subjects that carry their item counts.
func (b *Buffer) Publish(ctx context.Context, subject string, frame []byte, id string) error {
	return b.publish(ctx, subject, frame, id, false)
}

// publish is Publish; retry says an earlier attempt with the same id may
// have been stored without its ack reaching us, so a duplicate counts as
// published by this process.
func (b *Buffer) publish(ctx context.Context, subject string, frame []byte, id string, retry bool) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if err := b.store.refuse(); err != nil {
		return err
	}
	ack, err := b.js.Publish(ctx, subject, frame, jetstream.WithMsgID(id))
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == errCodeStoreFailed || apiErr.ErrorCode == errCodeResources) {
			b.full.Add(1)
			return fmt.Errorf("%w: %v", ErrBufferFull, err)
		}
		// A store that failed to write answers no publish: have the
		// watcher look (WatchStore).
		b.store.publishFailed()
		return fmt.Errorf("sink: publish to %s: %w", subject, err)
	}
	if ack.Duplicate {
		b.duplicates.Add(1)
		if !retry {
			return nil
		}
	}
	kind, n := subjectItems(subject)
	b.published.add(kind, n)
	return nil
}

// terminate removes a frame that cannot be decoded, counting it as
// forwarded (ForwarderStats.BadFrames tells them apart).
func (b *Buffer) terminate(msg jetstream.Msg) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if err := msg.Term(); err != nil {
		return err
	}
	kind, n := subjectItems(msg.Subject())
	b.forwarded.add(kind, n)
	return nil
}

// Results of ackHeld for one frame.
const (
	ackDone    = iota // acked and counted as forwarded
	ackRemoved        // a limit had removed the frame: it stays counted as dropped
	ackFailed         // the ack failed: the frame stays in the stream, to be redelivered
)

// ackHeld acks delivered frames that the stream still holds, writing each
// frame's outcome to res. JetStream accepts the ack of a message a limit
// already removed, so the check comes first; holding mu exclusively, no
// publish (and so no drop_oldest) can remove a frame between check and
// ack, and a frame counted as dropped by a State snapshot is never counted
// as forwarded later.
func (b *Buffer) ackHeld(ctx context.Context, msgs []jetstream.Msg, res []int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	first, err := b.firstSeq(ctx)
	for i, msg := range msgs {
		if err == nil {
			if md, merr := msg.Metadata(); merr == nil && md.Sequence.Stream < first {
				res[i] = ackRemoved
				continue
			}
		}
		if msg.DoubleAck(ctx) != nil {
			res[i] = ackFailed
			continue
		}
		kind, n := subjectItems(msg.Subject())
		b.forwarded.add(kind, n)
		res[i] = ackDone
	}
}

// firstSeq returns the sequence of the oldest frame the stream holds (one
// past the last when empty): limits remove frames from the head, so any
// frame below it is gone.
func (b *Buffer) firstSeq(ctx context.Context) (uint64, error) {
	info, err := b.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("sink: stream %s info: %w", b.opts.Stream, err)
	}
	if info.State.Msgs == 0 {
		return info.State.LastSeq + 1, nil
	}
	return info.State.FirstSeq, nil
}

// BufferState is a snapshot of the backlog and of the buffer's counters.
// Counters (Published… to Dropped…) count since OpenBuffer; items are
// aggregates and late events.
type BufferState struct {
	// Messages and Bytes are the frames held and their size on disk.
	Messages, Bytes uint64
	// Aggregates and LateEvents are the items those frames hold.
	Aggregates, LateEvents uint64
	// OldestAge is the age of the oldest frame still waiting (0 if none).
	OldestAge time.Duration
	// Published, Duplicates and Full count publishes: frames stored,
	// retries JetStream recognised, refusals because the stream was full
	// (push_back).
	Published, Duplicates, Full uint64
	// StoreFailures counts the times the stream's store failed to write
	// (a full disk), StoreRefused the publishes refused meanwhile
	// (ErrStoreFailed), StoreResets the times it was reopened and worked
	// again (see WatchStore).
	StoreFailures, StoreRefused, StoreResets uint64
	// PublishedAggregates and PublishedLateEvents are the items stored.
	PublishedAggregates, PublishedLateEvents uint64
	// Forwarded… count frames and items the forwarder removed after
	// delivering them to Kafka (or, for undecodable frames, terminating).
	ForwardedFrames, ForwardedAggregates, ForwardedLateEvents uint64
	// Dropped… count frames and items the stream's limits removed before
	// they were forwarded: the oldest frames under drop_oldest at
	// max_bytes, and frames older than max_age. They never decrease. A
	// frame removed while its delivery to Kafka was already in flight
	// counts as dropped even if that delivery then succeeded (see
	// ForwarderStats.DeliveredDropped); a frame removed by max_age in the
	// instant between the forwarder's check and its ack counts as
	// forwarded.
	DroppedFrames, DroppedAggregates, DroppedLateEvents uint64
}

// State returns the backlog and counters; it asks the server, and holds
// back publishes and acks for that round trip.
func (b *Buffer) State(ctx context.Context) (BufferState, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h, err := b.held(ctx)
	if err != nil {
		return BufferState{}, err
	}
	s := BufferState{
		Messages:            h.frames,
		Bytes:               h.bytes,
		Aggregates:          h.aggs,
		LateEvents:          h.late,
		Published:           b.published.frames.Load(),
		Duplicates:          b.duplicates.Load(),
		Full:                b.full.Load(),
		StoreFailures:       b.store.failures.Load(),
		StoreRefused:        b.store.refused.Load(),
		StoreResets:         b.store.resets.Load(),
		PublishedAggregates: b.published.aggs.Load(),
		PublishedLateEvents: b.published.late.Load(),
		ForwardedFrames:     b.forwarded.frames.Load(),
		ForwardedAggregates: b.forwarded.aggs.Load(),
		ForwardedLateEvents: b.forwarded.late.Load(),
	}
	dropped := func(start, pub, fwd, now uint64) uint64 {
		in, out := start+pub, fwd+now
		if out >= in {
			return 0
		}
		return in - out
	}
	s.DroppedFrames = dropped(b.heldStart.frames.Load(), s.Published, s.ForwardedFrames, h.frames)
	s.DroppedAggregates = dropped(b.heldStart.aggs.Load(), s.PublishedAggregates, s.ForwardedAggregates, h.aggs)
	s.DroppedLateEvents = dropped(b.heldStart.late.Load(), s.PublishedLateEvents, s.ForwardedLateEvents, h.late)
	if s.Messages > 0 && !h.firstTime.IsZero() {
		s.OldestAge = time.Since(h.firstTime)
	}
	return s, nil
}

// Options returns the options the buffer runs with, defaults applied.
func (b *Buffer) Options() BufferOptions { return b.opts }
