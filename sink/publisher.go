package sink

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/edgeplane/edgeplane/internal/ratelog"
)

// WriterStats are a writer's counters; safe to read from any goroutine.
// One value may be shared by the writers of a pipeline.
type WriterStats struct {
	Aggregates     atomic.Uint64 // items acknowledged into JetStream (aggregates, or late events for a LateWriter)
	Frames         atomic.Uint64 // frames acknowledged
	Bytes          atomic.Uint64 // frame bytes acknowledged: what the buffer stores on disk
	Retries        atomic.Uint64 // publish attempts that failed and were retried
	PushBackWaits  atomic.Uint64 // retries because the buffer was full (push_back)
	StoreWaits     atomic.Uint64 // retries because the buffer's store had failed (a full disk; see Buffer.WatchStore)
	LostOnShutdown atomic.Uint64 // items never acknowledged because the writer was cancelled
}

// publisher stores finished frames in the Buffer with retries; the
// Writer and the LateWriter share it. Not safe for concurrent use.
type publisher struct {
	buf                *Buffer
	pipeline, kind     string
	stats              *WriterStats
	log                *slog.Logger
	rl                 *ratelog.Logger // retries and refusals; made on first use
	retryMin, retryMax time.Duration
}

// publish stores frame, an assembly of n items, retrying with backoff
// until JetStream acknowledges it or ctx ends. A retry carries the same
// message id, so it is stored once even if an earlier attempt was stored
// but its ack lost. While the buffer refuses frames (push_back) this
// blocks, which is the back pressure the policy promises.
func (p *publisher) publish(ctx context.Context, frame []byte, n int) error {
	subj := p.buf.frameSubject(p.pipeline, p.kind, n)
	id := FrameID(frame)
	backoff := p.retryMin
	ambiguous := false // an earlier attempt may have been stored
	for {
		err := p.buf.publish(ctx, subj, frame, id, ambiguous)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			p.stats.LostOnShutdown.Add(uint64(n))
			p.log.Error("items not stored: writer cancelled", "kind", p.kind, "items", n, "err", err)
			return ctx.Err()
		}
		full := errors.Is(err, ErrBufferFull)
		failed := errors.Is(err, ErrStoreFailed) // not sent at all
		ambiguous = ambiguous || !full && !failed
		p.stats.Retries.Add(1)
		var recovered <-chan struct{}
		switch {
		case full:
			p.stats.PushBackWaits.Add(1)
		case failed:
			p.stats.StoreWaits.Add(1)
			recovered = p.buf.store.recoveredCh()
		}
		p.logRetry(full, failed, err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-recovered:
			t.Stop()
		case <-t.C:
		}
		backoff = min(backoff*2, p.retryMax)
	}
	p.stats.Frames.Add(1)
	p.stats.Aggregates.Add(uint64(n))
	p.stats.Bytes.Add(uint64(len(frame)))
	return nil
}

// logRetry logs a failed publish, at most one line per
// ratelog.DefaultInterval for a full buffer, one for a failed store and one
// for other errors,
// each with the count of the retries not logged.
func (p *publisher) logRetry(full, failed bool, err error) {
	if p.rl == nil {
		p.rl = ratelog.New(p.log, ratelog.DefaultInterval)
	}
	if failed {
		p.rl.Warn("buffer store failed; waiting for it to recover", "kind", p.kind, "err", err)
		return
	}
	if full {
		p.rl.Warn("buffer full; waiting for room (push_back)", "kind", p.kind)
		return
	}
	p.rl.Warn("buffer publish failed, retrying", "kind", p.kind, "err", err)
}
