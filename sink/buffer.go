package sink

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// OnFull says what the buffer does when it reaches MaxBytes.
type OnFull uint8

const (
	// DropOldest deletes the oldest frames to make room: the newest data
	// is kept. Dropped frames are counted.
	DropOldest OnFull = iota
	// PushBack refuses new frames: the writer retries, which stalls the
	// operators, fills the rings and applies their policy upstream.
	PushBack
)

// ParseOnFull parses "drop_oldest" or "push_back".
func ParseOnFull(s string) (OnFull, error) {
	switch s {
	case "drop_oldest", "":
		return DropOldest, nil
	case "push_back":
		return PushBack, nil
	}
	return 0, fmt.Errorf("unknown on_full policy %q (want drop_oldest or push_back)", s)
}

// BufferOptions configure the JetStream stream that buffers frames.
type BufferOptions struct {
	// Stream is the stream name. Default "EDGEPLANE_AGG".
	Stream string
	// Subjects the stream captures. Default "edgeplane.agg.>"; writers
	// publish to "edgeplane.agg.<pipeline>".
	SubjectPrefix string
	// MaxBytes bounds the stream's size on disk. Default 1 GiB.
	MaxBytes int64
	// MaxAge drops frames older than this. Default 7 days; 0 keeps the
	// default, negative means no limit.
	MaxAge time.Duration
	// OnFull is the policy at MaxBytes. Default DropOldest.
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
type Buffer struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	opts   BufferOptions

	published  atomic.Uint64 // frames acknowledged by JetStream (not duplicates)
	duplicates atomic.Uint64 // publishes JetStream recognised as retries
	full       atomic.Uint64 // publishes refused because the stream was full
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
	return &Buffer{js: js, stream: st, opts: o}, nil
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
func (b *Buffer) Publish(ctx context.Context, subject string, frame []byte, id string) error {
	ack, err := b.js.Publish(ctx, subject, frame, jetstream.WithMsgID(id))
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == errCodeStoreFailed || apiErr.ErrorCode == errCodeResources) {
			b.full.Add(1)
			return fmt.Errorf("%w: %v", ErrBufferFull, err)
		}
		return fmt.Errorf("sink: publish to %s: %w", subject, err)
	}
	if ack.Duplicate {
		b.duplicates.Add(1)
	} else {
		b.published.Add(1)
	}
	return nil
}

// BufferState is a snapshot of the backlog.
type BufferState struct {
	Messages, Bytes uint64
	// OldestAge is the age of the oldest frame still waiting (0 if none).
	OldestAge time.Duration
	// Published, Duplicates and Full count publishes since start.
	Published, Duplicates, Full uint64
}

// State returns the stream's backlog; it asks the server.
func (b *Buffer) State(ctx context.Context) (BufferState, error) {
	info, err := b.stream.Info(ctx)
	if err != nil {
		return BufferState{}, fmt.Errorf("sink: stream info: %w", err)
	}
	s := BufferState{
		Messages:   info.State.Msgs,
		Bytes:      info.State.Bytes,
		Published:  b.published.Load(),
		Duplicates: b.duplicates.Load(),
		Full:       b.full.Load(),
	}
	if s.Messages > 0 && !info.State.FirstTime.IsZero() {
		s.OldestAge = time.Since(info.State.FirstTime)
	}
	return s, nil
}

// Options returns the options the buffer runs with, defaults applied.
func (b *Buffer) Options() BufferOptions { return b.opts }
