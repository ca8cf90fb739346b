package sink

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

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
