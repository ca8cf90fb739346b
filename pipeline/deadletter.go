package pipeline

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/decode"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplane/edgeplane/ingest"
)

// Dead letters: rejected payloads of sources with dead_letter on go, with
// their reason and topic as headers, to the JetStream subject
// edgeplane.deadletter.<source>, captured by a bounded stream (oldest
// dropped first). A bounded queue decouples the sources' receive
// goroutines from the publishes; when it is full the payload is counted
// as dropped, never waited for.
const (
	deadLetterStream   = "EDGEPLANE_DEADLETTER"
	deadLetterSubject  = "edgeplane.deadletter"
	deadLetterQueue    = 1024
	deadLetterMaxBytes = config.DeadLetterMaxBytes
	// The headers of a dead letter; its source is the subject's last
	// token, its time the stream's timestamp.
	deadLetterReasonHeader = "reason"
	deadLetterTopicHeader  = "topic"
)

type deadMsg struct {
	source, topic string
	reason        decode.Reason
	payload       []byte
}

type deadLetters struct {
	// streamMu guards streamOpen: the stream is created when the first
	// source with dead_letter on starts (at Start or a reload), so a
	// config without dead letters reserves no space for them.
	streamMu   sync.Mutex
	streamOpen bool

	ch      chan deadMsg
	sent    atomic.Uint64
	dropped atomic.Uint64
	failed  atomic.Uint64
}

func newDeadLetters() *deadLetters { return &deadLetters{ch: make(chan deadMsg, deadLetterQueue)} }

// hook returns the DeadLetter function for a source. It copies what it
// keeps: the source's topic and payload are valid only during the call.
func (d *deadLetters) hook(string) ingest.DeadLetter {
	return func(source string, reason decode.Reason, topic string, payload []byte) {
		// topic may alias the source's reused buffer: clone it too.
		m := deadMsg{source: source, topic: strings.Clone(topic), reason: reason, payload: append([]byte(nil), payload...)}
		select {
		case d.ch <- m:
		default:
			d.dropped.Add(1)
		}
	}
}

// openStream creates the dead-letter stream unless it was already.
func (d *deadLetters) openStream(ctx context.Context, nc *nats.Conn) error {
	d.streamMu.Lock()
	defer d.streamMu.Unlock()
	if d.streamOpen {
		return nil
	}
	if err := openDeadLetterStream(ctx, nc); err != nil {
		return err
	}
	d.streamOpen = true
	return nil
}

// openDeadLetterStream creates the bounded stream the dead letters land in;
// it reserves DeadLetterMaxBytes of JetStream's storage.
func openDeadLetterStream(ctx context.Context, nc *nats.Conn) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        deadLetterStream,
		Description: "edgeplane: rejected payloads with their reason",
		Subjects:    []string{deadLetterSubject + ".>"},
		Storage:     jetstream.FileStorage,
		MaxBytes:    deadLetterMaxBytes,
		Discard:     jetstream.DiscardOld,
	})
	if err != nil {
		return fmt.Errorf("dead-letter stream: %w", err)
	}
	return nil
}

// run publishes queued dead letters until ctx ends.
func (d *deadLetters) run(ctx context.Context, nc *nats.Conn) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-d.ch:
			msg := nats.NewMsg(deadLetterSubject + "." + m.source)
			msg.Header.Set(deadLetterReasonHeader, m.reason.String())
			msg.Header.Set(deadLetterTopicHeader, m.topic)
			msg.Data = m.payload
			if err := nc.PublishMsg(msg); err != nil {
				d.failed.Add(1)
				continue
			}
			d.sent.Add(1)
		}
	}
}
