//go:build !edgeplane_synctest

package clock

import (
	"sync"
	"sync/atomic"
	"time"
)

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
