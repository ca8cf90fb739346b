// Package clock is a coarse wall clock for hot paths: reading it is one
// atomic load instead of a time.Now call per message. It ticks every
// Resolution while it is read (started on first use): a tick that finds
// no read since the one before stops the ticker; reads then take the real
// clock themselves, and two within 100 ms start it again. A process under
// traffic pays a hundred wake-ups a second; an idle one, whose periodic
// checks read the clock a few times a second, pays none.
//
// # Tests under testing/synctest
//
// The ticking goroutine does not suit a testing/synctest bubble: started
// inside one it never exits, so the bubble cannot end, and started outside
// it keeps real time while the bubble's clock jumps. Built with the tag
// edgeplane_synctest, the package is a twin whose NowMs reads time.Now
// directly (as VictoriaMetrics' lib/fasttime does under its synctest tag),
// so inside a bubble it follows the bubble's fake clock exactly:
//
//	go test -tags edgeplane_synctest ./internal/clock
//
// and likewise for any package whose synctest tests reach NowMs (ingest,
// pipeline). Only tests use the tag; binaries are built without it.
package clock

import "time"

// Resolution is the clock's granularity. Under the edgeplane_synctest tag
// NowMs is exact and Resolution only bounds what callers may assume.
const Resolution = 10 * time.Millisecond
