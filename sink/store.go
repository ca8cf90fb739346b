package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplane/edgeplane/internal/ratelog"
)

// A failed store. When a write to the stream's files fails — the disk is
// full, typically — nats-server keeps that error and refuses every later
// write with it, answering no publish (each times out), until the store is
// reopened from disk; see natsd.Server.ResetJetStream. WatchStore notices
// the error, then the buffer refuses frames at once with ErrStoreFailed
// (counted; the writers retry, so the frames wait in the operators and the
// rings apply their policy upstream: nothing acknowledged is dropped, under
// either on_full policy, since making room by purging is not safe on a full
// disk) and /readyz names the failure. Once StoreHeadroom bytes are free
// again it reopens the store, checks it, and the writers resume.

// StoreControl is what WatchStore needs of the server under the buffer;
// *natsd.Server implements it.
type StoreControl interface {
	// StoreError returns the write error the server holds for stream, or
	// nil when it stores normally.
	StoreError(stream string) error
	// ResetJetStream reopens the server's stores from disk, which clears
	// their write errors and keeps what they hold.
	ResetJetStream() error
	// FreeBytes returns the bytes free on the store's filesystem.
	FreeBytes() (uint64, error)
}

// StoreHeadroom is how many bytes must be free on the store's filesystem
// before WatchStore reopens a failed store: room for some frames (a frame
// is at most a few hundred KiB) and the store's index files.
const StoreHeadroom = 1 << 20

// ErrStoreFailed is returned by Publish while the stream's store has
// failed (see WatchStore); the frame was not sent.
var ErrStoreFailed = errors.New("sink: buffer store failed")

// storeWatch is the buffer's view of its store's health.
type storeWatch struct {
	failed   atomic.Pointer[storeFailure] // nil while the store works
	failures atomic.Uint64                // times the store failed
	resets   atomic.Uint64                // times it was reopened and worked again
	refused  atomic.Uint64                // publishes refused while failed
	free     atomic.Uint64                // bytes free at the last check while failed
	kick     chan struct{}                // a publish failed: check now

	mu        sync.Mutex
	recovered chan struct{} // closed when the failed store works again

	// Reset pacing, used by the watcher goroutine only: a store that fails
	// again soon after a reset (a failing device rather than a full disk),
	// or a reset that fails, waits twice as long before the next, up to
	// maxResetBackoff, so JetStream is not restarted twice a second.
	lastReset, notBefore time.Time
	backoff              time.Duration
}

const (
	minResetBackoff = time.Second
	maxResetBackoff = 30 * time.Second
	// refailWithin is how soon after a reset a new failure counts as the
	// same trouble.
	refailWithin = 10 * time.Second
)

// slower doubles the reset backoff and schedules the next reset after it.
func (w *storeWatch) slower(now time.Time) {
	w.backoff = min(max(2*w.backoff, minResetBackoff), maxResetBackoff)
	w.notBefore = now.Add(w.backoff)
}

type storeFailure struct {
	err   error
	since time.Time
}

// noteFailed marks the store failed with err (once per failure).
func (w *storeWatch) noteFailed(err error) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed.Load() != nil {
		return false
	}
	w.recovered = make(chan struct{})
	w.failed.Store(&storeFailure{err: err, since: time.Now()})
	w.failures.Add(1)
	return true
}

func (w *storeWatch) noteRecovered() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failed.Store(nil)
	w.resets.Add(1)
	close(w.recovered)
}

// recoveredCh returns a channel closed when a failed store works again (a
// closed one while it works).
func (w *storeWatch) recoveredCh() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.recovered == nil || w.failed.Load() == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return w.recovered
}

// refuse returns ErrStoreFailed if the store has failed.
func (w *storeWatch) refuse() error {
	f := w.failed.Load()
	if f == nil {
		return nil
	}
	w.refused.Add(1)
	return fmt.Errorf("%w: %v", ErrStoreFailed, f.err)
}

// publishFailed asks the watcher to check the store now.
func (w *storeWatch) publishFailed() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// StoreProblem reports whether the buffer's store has failed and, if so,
// why, since when, and how much space is free.
func (b *Buffer) StoreProblem() (failed bool, reason string) {
	f := b.store.failed.Load()
	if f == nil {
		return false, ""
	}
	return true, "buffer store failed " + time.Since(f.since).Round(100*time.Millisecond).String() + " ago: " +
		f.err.Error() + "; " + strconv.FormatUint(b.store.free.Load(), 10) + " bytes free, recovering once " +
		strconv.Itoa(StoreHeadroom) + " are; " + strconv.FormatUint(b.store.refused.Load(), 10) + " frames refused so far"
}

// WatchStore checks the stream's store every interval while it has failed,
// every HealthyStoreChecks intervals while it works, and at once after a
// failed publish, until ctx ends, and repairs it as described above. Run
// it once per buffer, in its own goroutine.
//
// A check runs the server's health check on the stream, which lists the
// store's directories: twice a second it was a tenth of an idle gateway's
// CPU. A working store fails through a write, which is a publish that
// fails and asks for a check at once, so the slow checks are only a safety
// net; a failed store is polled at interval to notice free space soon.
func (b *Buffer) WatchStore(ctx context.Context, sc StoreControl, interval time.Duration, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	rl := ratelog.New(log.With("component", "buffer"), ratelog.DefaultInterval)
	t := time.NewTimer(b.store.nextCheck(interval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-b.store.kick:
		}
		b.checkStore(sc, rl)
		t.Reset(b.store.nextCheck(interval))
	}
}

// HealthyStoreChecks is how many of WatchStore's intervals pass between
// checks of a store that works.
const HealthyStoreChecks = 10

// nextCheck is the wait before WatchStore's next check.
func (w *storeWatch) nextCheck(interval time.Duration) time.Duration {
	if w.failed.Load() != nil {
		return interval
	}
	return HealthyStoreChecks * interval
}

func (b *Buffer) checkStore(sc StoreControl, rl *ratelog.Logger) {
	w := &b.store
	if w.failed.Load() == nil {
		err := sc.StoreError(b.opts.Stream)
		if err == nil || !w.noteFailed(err) {
			return
		}
		rl.Log(slog.LevelError, "store failed", "buffer store failed; refusing frames until it can be reopened",
			"stream", b.opts.Stream, "err", err)
		if now := time.Now(); now.Sub(w.lastReset) < refailWithin {
			w.slower(now)
		} else {
			w.backoff = 0
		}
	}
	if time.Now().Before(w.notBefore) {
		return
	}
	free, err := sc.FreeBytes()
	if err != nil {
		rl.Warn("cannot read the store's free space", "err", err)
	}
	w.free.Store(free)
	if err == nil && free < StoreHeadroom {
		return
	}
	// Hold back publishes, acks and State while the store is reopened.
	b.mu.Lock()
	err = sc.ResetJetStream()
	if err == nil {
		err = sc.StoreError(b.opts.Stream)
	}
	var removed int
	if err == nil {
		removed, err = b.removeAcked()
	}
	b.mu.Unlock()
	if err != nil {
		w.slower(time.Now())
		rl.Warn("buffer store not reopened; retrying", "stream", b.opts.Stream, "free_bytes", free, "err", err,
			"retry_in", w.backoff)
		return
	}
	w.lastReset = time.Now()
	f := w.failed.Load()
	w.noteRecovered()
	rl.Log(slog.LevelInfo, "store recovered", "buffer store reopened; storing again", "stream", b.opts.Stream,
		"failed_for", time.Since(f.since).Round(time.Millisecond), "free_bytes", free, "frames_refused", w.refused.Load(),
		"acked_frames_removed", removed)
}

// removeAcked deletes the frames the consumers acked while the store had
// failed: the server recorded the ack but could not remove the frame, and
// after the reset the work-queue stream still holds it while no consumer
// will deliver it again. They were delivered to Kafka (and counted as
// forwarded when the ack was answered). Call with mu held.
func (b *Buffer) removeAcked() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := b.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("sink: stream %s info: %w", b.opts.Stream, err)
	}
	if info.State.Msgs == 0 {
		return 0, nil
	}
	floor := uint64(0)
	names := b.stream.ConsumerNames(ctx)
	n := 0
	for name := range names.Name() {
		ci, err := b.stream.Consumer(ctx, name)
		if err != nil {
			return 0, fmt.Errorf("sink: consumer %s: %w", name, err)
		}
		cinfo, err := ci.Info(ctx)
		if err != nil {
			return 0, fmt.Errorf("sink: consumer %s info: %w", name, err)
		}
		if n == 0 || cinfo.AckFloor.Stream < floor {
			floor = cinfo.AckFloor.Stream
		}
		n++
	}
	if err := names.Err(); err != nil {
		return 0, fmt.Errorf("sink: stream %s consumers: %w", b.opts.Stream, err)
	}
	removed := 0
	for seq := info.State.FirstSeq; n > 0 && seq <= floor; seq++ {
		err := b.stream.DeleteMsg(ctx, seq)
		switch {
		case err == nil:
			removed++
		case errors.Is(err, jetstream.ErrMsgNotFound):
		default:
			return removed, fmt.Errorf("sink: stream %s: delete acked frame %d: %w", b.opts.Stream, seq, err)
		}
	}
	return removed, nil
}

// StoreCounts are WatchStore's counters, as in BufferState, read without
// a server round trip.
func (b *Buffer) StoreCounts() (failures, refused, resets uint64) {
	return b.store.failures.Load(), b.store.refused.Load(), b.store.resets.Load()
}
