package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DeadLetter is one rejected payload read back from the dead-letter
// stream (`edgeplane deadletters`).
type DeadLetter struct {
	Seq    uint64    `json:"seq"`  // the stream's sequence number
	Time   time.Time `json:"time"` // when the stream stored it, shortly after the rejection
	Source string    `json:"source"`
	Topic  string    `json:"topic"`
	Reason string    `json:"reason"` // a decode.Reason name: malformed, missing_field, …
	// Payload is the rejected record's bytes (nil for a WebSocket message
	// refused as too_large from its header). Valid only during the
	// callback. In JSON (GET /v1/deadletters) it is base64.
	Payload []byte `json:"payload"`
}

// ErrNoDeadLetterStream is returned by ReadDeadLetters when the store has
// no dead-letter stream: the gateway has never started on it.
var ErrNoDeadLetterStream = errors.New("no dead-letter stream in this store")

// DeadLetterQuery selects the dead letters ReadDeadLetters reads.
type DeadLetterQuery struct {
	// Source, when set, keeps only that source's dead letters.
	Source string
	// Follow keeps reading new dead letters until ctx ends; else reading
	// stops after the last one stored when it started.
	Follow bool
	// Idle ends a read without Follow when no dead letter arrives for
	// this long although the stream said more were pending (the stream's
	// limits removed them meanwhile). Default 5s.
	Idle time.Duration
}

// ReadDeadLetters calls fn with each dead letter in the stream, oldest
// first, through an ephemeral ordered consumer on nc (no durable state
// is left behind, nothing is acknowledged or removed). It returns when
// the stored ones are read (or, with q.Follow, when ctx ends: then nil),
// or with fn's error.
func ReadDeadLetters(ctx context.Context, nc *nats.Conn, q DeadLetterQuery, fn func(*DeadLetter) error) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	st, err := js.Stream(ctx, deadLetterStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return ErrNoDeadLetterStream
	}
	if err != nil {
		return fmt.Errorf("dead-letter stream: %w", err)
	}
	filter := deadLetterSubject + ".>"
	if q.Source != "" {
		filter = deadLetterSubject + "." + q.Source
	}
	if !q.Follow {
		info, err := st.Info(ctx, jetstream.WithSubjectFilter(filter))
		if err != nil {
			return fmt.Errorf("dead-letter stream: %w", err)
		}
		var n uint64
		for _, c := range info.State.Subjects {
			n += c
		}
		if n == 0 {
			return nil
		}
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("dead-letter consumer: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("dead-letter consumer: %w", err)
	}
	var stopOnce sync.Once
	stop := func() { stopOnce.Do(it.Stop) }
	defer stop()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			stop()
		case <-done:
		}
	}()
	idle := q.Idle
	if idle <= 0 {
		idle = 5 * time.Second
	}
	var timer *time.Timer
	if !q.Follow {
		timer = time.AfterFunc(idle, stop)
		defer timer.Stop()
	}
	prefix := deadLetterSubject + "."
	for {
		m, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return fmt.Errorf("dead-letter consumer: %w", err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("dead-letter consumer: %w", err)
		}
		h := m.Headers()
		dl := DeadLetter{
			Seq:     meta.Sequence.Stream,
			Time:    meta.Timestamp,
			Source:  strings.TrimPrefix(m.Subject(), prefix),
			Topic:   h.Get(deadLetterTopicHeader),
			Reason:  h.Get(deadLetterReasonHeader),
			Payload: m.Data(),
		}
		if err := fn(&dl); err != nil {
			return err
		}
		if !q.Follow {
			if meta.NumPending == 0 {
				return nil
			}
			timer.Reset(idle)
		}
	}
}
