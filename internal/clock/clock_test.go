//go:build !edgeplane_synctest

package clock

import (
	"fmt"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/internal/testenv/poll"
)

// TestCoarseClock: a read while the ticker sleeps is current, no read is
// ahead of the real clock, and reads that come often wake the ticking
// goroutine, which moves the clock on.
//
// The ticker is let fall asleep first: a read of the running ticker's
// clock is at most Resolution behind only while the ticker is scheduled
// on time, which a loaded machine does not promise (CI saw 11 ms).
func TestCoarseClock(t *testing.T) {
	waitAsleep(t)
	before := time.Now().UnixMilli()
	first := NowMs()
	if after := time.Now().UnixMilli(); first < before || first > after {
		t.Fatalf("NowMs() = %d, real clock %d..%d", first, before, after)
	}
	poll.Until(t, 5*time.Second, Resolution, func() error { // generous: the machine may be loaded
		n := NowMs()
		if real := time.Now().UnixMilli(); n > real {
			t.Fatalf("NowMs() = %d is ahead of the real clock %d", n, real)
		}
		if n <= first || state.Load()&asleep != 0 {
			return fmt.Errorf("NowMs() at %d (first %d), ticker state %d", n, first, state.Load())
		}
		return nil
	})
}

// waitAsleep reads the clock once (starting it) and waits until the
// ticker stops for want of reads.
func waitAsleep(t *testing.T) {
	t.Helper()
	NowMs()
	poll.Until(t, 5*time.Second, Resolution, func() error {
		if s := state.Load(); s != asleep {
			return fmt.Errorf("ticker still running after the last read (state %d)", s)
		}
		return nil
	})
}

func BenchmarkNowMs(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		NowMs()
	}
}

// TestClockSleepsUnread: a tick without a read since the previous one
// stops the ticker; a rare read is current (it reads the real clock) and
// leaves it asleep, a second one soon after starts it again, and the
// ticker then moves the clock on.
func TestClockSleepsUnread(t *testing.T) {
	waitAsleep(t)
	// A rare read: the clock was last set a second ago.
	nowMs.Add(-1000)
	before := time.Now().UnixMilli()
	got := NowMs()
	if after := time.Now().UnixMilli(); got < before || got > after {
		t.Fatalf("first read after sleeping: NowMs() = %d, real clock %d..%d", got, before, after)
	}
	if s := state.Load(); s&asleep == 0 {
		t.Fatalf("a rare read woke the ticker (state %d)", s)
	}
	// A second read within wakeGapMs of the first wakes the ticker. A
	// loaded machine may hold this goroutine off longer than that between
	// two statements; the read then was rare too, and the pair is retried.
	for try := 0; ; try++ {
		prev := nowMs.Load()
		again := NowMs()
		if again < prev {
			t.Fatalf("read %d before the previous %d", again, prev)
		}
		// Woken: the ticker runs, or already ran and moved the clock (it
		// may even be asleep again if this goroutine was held off for two
		// ticks since the read).
		if state.Load()&asleep == 0 || nowMs.Load() > again {
			got = again
			break
		}
		if again-prev < wakeGapMs || try == 20 {
			t.Fatalf("two reads %d ms apart left the ticker asleep (state %d, try %d)", again-prev, state.Load(), try)
		}
	}
	poll.Until(t, 5*time.Second, Resolution, func() error {
		if nowMs.Load() == got {
			return fmt.Errorf("woken ticker does not move the clock from %d", got)
		}
		return nil
	})
}
