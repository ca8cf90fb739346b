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
	for b.Loop() {
		NowMs()
	}
}
