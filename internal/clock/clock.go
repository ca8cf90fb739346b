// Package clock is a coarse wall clock for hot paths: reading it is one
// atomic load instead of a time.Now call per message. It ticks every
// Resolution while the process runs (started on first use), which costs a
// hundred wake-ups a second and nothing else.
package clock

import (
	"sync"
	"sync/atomic"
	"time"
)

// Resolution is the clock's granularity.
const Resolution = 10 * time.Millisecond

var (
	nowMs atomic.Int64
	once  sync.Once
)

// NowMs returns the current Unix time in milliseconds, at most Resolution
// behind the real clock.
func NowMs() int64 {
	once.Do(start)
	return nowMs.Load()
}

func start() {
	nowMs.Store(time.Now().UnixMilli())
	go func() {
		t := time.NewTicker(Resolution)
		for now := range t.C {
			nowMs.Store(now.UnixMilli())
		}
	}()
}
