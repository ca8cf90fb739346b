package sink

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgeplane/edgeplane/internal/ratelog"
)

// failingDevice is a store whose writes keep failing with room free (a
// bad device, not a full disk): every reset "works" and the error is back
// at once. The integration with the real server is TestDiskFull* in
// pipeline and TestStoreErrorAndReset in natsd.
type failingDevice struct{ resets int }

func (d *failingDevice) StoreError(string) error    { return errors.New("write: input/output error") }
func (d *failingDevice) ResetJetStream() error      { d.resets++; return nil }
func (d *failingDevice) FreeBytes() (uint64, error) { return 1 << 30, nil }

// TestStoreResetBackoff: a store that fails again right after its reset
// is not reset on every check: the watcher backs off (1 s, doubling), while
// frames are refused and the problem is reported.
func TestStoreResetBackoff(t *testing.T) {
	b := &Buffer{opts: BufferOptions{Stream: "S"}}
	b.store.kick = make(chan struct{}, 1)
	d := &failingDevice{}
	rl := ratelog.New(slog.New(slog.DiscardHandler), ratelog.DefaultInterval)
	for i := 0; i < 20; i++ {
		b.checkStore(d, rl)
	}
	if d.resets != 1 {
		t.Fatalf("%d resets in 20 checks in a row, want 1 (then a backoff)", d.resets)
	}
	if b.store.backoff != minResetBackoff || b.store.notBefore.IsZero() {
		t.Fatalf("backoff %s, next reset %v", b.store.backoff, b.store.notBefore)
	}
	if err := b.store.refuse(); !errors.Is(err, ErrStoreFailed) {
		t.Fatalf("publish while failed: %v", err)
	}
	if failed, why := b.StoreProblem(); !failed || !strings.Contains(why, "input/output error") {
		t.Fatalf("StoreProblem: %v %q", failed, why)
	}
	b.store.slower(b.store.notBefore)
	b.store.slower(b.store.notBefore)
	b.store.slower(b.store.notBefore)
	b.store.slower(b.store.notBefore)
	b.store.slower(b.store.notBefore)
	if b.store.backoff != maxResetBackoff {
		t.Fatalf("backoff after 6 failures %s, want the cap %s", b.store.backoff, maxResetBackoff)
	}
}

// countingStore is a store that works until failed is set, counting the
// health checks WatchStore makes; FreeBytes says the disk is still full.
type countingStore struct {
	checks, frees atomic.Int64
	failed        atomic.Bool
}

func (c *countingStore) StoreError(string) error {
	c.checks.Add(1)
	if c.failed.Load() {
		return errors.New("write: no space left on device")
	}
	return nil
}
func (c *countingStore) ResetJetStream() error      { return nil }
func (c *countingStore) FreeBytes() (uint64, error) { c.frees.Add(1); return 0, nil }

// TestWatchStorePace: a working store is checked every
// HealthyStoreChecks intervals, not every interval (an idle gateway's
// CPU); a failed publish gets a check at once, and a failed store is
// checked every interval.
func TestWatchStorePace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 500 * time.Millisecond
		b := &Buffer{opts: BufferOptions{Stream: "S"}}
		b.store.kick = make(chan struct{}, 1)
		sc := &countingStore{}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go b.WatchStore(ctx, sc, interval, slog.New(slog.DiscardHandler))

		time.Sleep(20*interval + time.Millisecond)
		synctest.Wait()
		if n := sc.checks.Load(); n != 20/HealthyStoreChecks {
			t.Fatalf("%d checks of a working store in 20 intervals, want %d", n, 20/HealthyStoreChecks)
		}

		// A publish fails: checked at once, and found failed.
		sc.failed.Store(true)
		b.store.publishFailed()
		synctest.Wait()
		if failed, _ := b.StoreProblem(); !failed || sc.checks.Load() != 20/HealthyStoreChecks+1 {
			t.Fatalf("after a failed publish: failed %v, %d checks", failed, sc.checks.Load())
		}
		// Failed (and the disk still full): a check every interval. The
		// failure is known, so these poll free space, not StoreError.
		f0 := sc.frees.Load()
		time.Sleep(4*interval + time.Millisecond)
		synctest.Wait()
		if n := sc.frees.Load() - f0; n != 4 {
			t.Fatalf("%d free-space checks of a failed store in 4 intervals, want 4", n)
		}
	})
}
