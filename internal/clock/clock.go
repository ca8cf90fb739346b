//go:build !edgeplane_synctest

package clock

import (
	"sync"
	"sync/atomic"
	"time"
)

// state bits: read is set by NowMs (once per tick; the fast path only
// loads it), asleep while the ticker is stopped for want of readers.
const (
	read   uint32 = 1
	asleep uint32 = 2
)

var (
	nowMs atomic.Int64
	state atomic.Uint32
	wake  = make(chan struct{}, 1)
	once  sync.Once
)

// NowMs returns the current Unix time in milliseconds, at most Resolution
// behind the real clock.
func NowMs() int64 {
	once.Do(start)
	if state.Load() == read {
		return nowMs.Load() // the steady state under traffic: two loads
	}
	return nowMsSlow()
}

// wakeGapMs: a read while the ticker sleeps wakes it when the clock was
// last set (by the ticker or by such a read) less than this ago, so reads
// that come often (traffic) get the ticker back and rare ones (an idle
// process's periodic checks) only read the real clock.
const wakeGapMs = 100

// nowMsSlow is the first read after a tick (it marks the clock read) and
// every read while the ticker sleeps (it reads the real clock, and wakes
// the ticker if reads come often).
func nowMsSlow() int64 {
	old := state.Or(read)
	if old&asleep == 0 {
		return nowMs.Load()
	}
	now := time.Now().UnixMilli()
	// Exactly one reader flips asleep off and wakes the ticker; every
	// reader until the ticker runs again reads the real clock itself.
	if now-nowMs.Load() < wakeGapMs && state.CompareAndSwap(asleep|read, read) {
		select {
		case wake <- struct{}{}:
		default: // cannot happen: one wake per sleep
		}
	}
	return storeMax(now)
}

// storeMax moves the clock to ms unless it is already later, so that
// racing readers and the ticker never move it back; it returns the clock.
func storeMax(ms int64) int64 {
	for {
		cur := nowMs.Load()
		if ms <= cur {
			return cur
		}
		if nowMs.CompareAndSwap(cur, ms) {
			return ms
		}
	}
}

// start runs the ticker: it sets the clock every Resolution while the
// clock is read, and stops after a tick without a read until reads come
// often again (wakeGapMs), so an idle process pays nothing for it.
func start() {
	nowMs.Store(time.Now().UnixMilli())
	state.Store(read)
	go func() {
		t := time.NewTicker(Resolution)
		for now := range t.C {
			storeMax(now.UnixMilli())
			if state.CompareAndSwap(read, 0) || !state.CompareAndSwap(0, asleep) {
				continue // read since the last tick (or just now)
			}
			t.Stop()
			<-wake
			storeMax(time.Now().UnixMilli())
			t.Reset(Resolution)
		}
	}()
}
