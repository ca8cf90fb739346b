//go:build edgeplane_synctest

package clock

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestNowMsFollowsFakeTime: inside a synctest bubble NowMs is the bubble's
// clock, which starts at 2000-01-01 UTC and moves only when every goroutine
// in the bubble is blocked. The coarse clock's ticker goroutine would keep
// the bubble from ending; this build starts none.
func TestNowMsFollowsFakeTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
		if got := NowMs(); got != start {
			t.Fatalf("NowMs() = %d at the bubble's start, want %d", got, start)
		}
		time.Sleep(90 * time.Minute)
		if got, want := NowMs(), start+(90*time.Minute).Milliseconds(); got != want {
			t.Fatalf("NowMs() = %d after a 90m fake sleep, want %d", got, want)
		}
		done := make(chan int64)
		go func() {
			time.Sleep(1500 * time.Millisecond)
			done <- NowMs()
		}()
		if got, want := <-done, start+(90*time.Minute+1500*time.Millisecond).Milliseconds(); got != want {
			t.Fatalf("NowMs() in a bubbled goroutine = %d, want %d", got, want)
		}
	})
}
