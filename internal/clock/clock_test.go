//go:build !edgeplane_synctest

package clock

import (
	"testing"
	"time"
)

// TestCoarseClock: the first read is current, no read is ahead of the
// real clock, and the ticking goroutine moves the clock on.
func TestCoarseClock(t *testing.T) {
	before := time.Now().UnixMilli()
	first := NowMs()
	if after := time.Now().UnixMilli(); first < before-Resolution.Milliseconds() || first > after {
		t.Fatalf("NowMs() = %d, real clock %d..%d", first, before, after)
	}
	deadline := time.Now().Add(5 * time.Second) // generous: the machine may be loaded
	for {
		n := NowMs()
		if real := time.Now().UnixMilli(); n > real {
			t.Fatalf("NowMs() = %d is ahead of the real clock %d", n, real)
		}
		if n > first {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("NowMs() stuck at %d for 5s", first)
		}
		time.Sleep(Resolution)
	}
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
	NowMs()
	deadline := time.Now().Add(5 * time.Second)
	for state.Load() != asleep {
		if time.Now().After(deadline) {
			t.Fatalf("ticker still running 5s after the last read (state %d)", state.Load())
		}
		time.Sleep(Resolution)
	}
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
	if again := NowMs(); again < got {
		t.Fatalf("second read %d before the first %d", again, got)
	}
	if s := state.Load(); s&asleep != 0 {
		t.Fatalf("two reads in a row left the ticker asleep (state %d)", s)
	}
	for nowMs.Load() == got {
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatalf("woken ticker does not move the clock from %d", got)
		}
		time.Sleep(Resolution)
	}
}
