//go:build edgeplane_synctest

package clock

import "time"

// NowMs returns the current Unix time in milliseconds from time.Now, so
// that inside a testing/synctest bubble it is the bubble's fake time. This
// is the edgeplane_synctest build; see the package doc.
func NowMs() int64 { return time.Now().UnixMilli() }
