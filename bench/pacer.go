package bench

import (
	"context"
	"time"
)

// Pacer releases events at a fixed rate measured against the monotonic
// clock: event n is due at start + n/rate. Because it counts what is due
// from the elapsed time rather than sleeping a fixed interval per event,
// timer jitter and a slow consumer only delay events, never change the
// rate: the count released by time t is floor(t·rate) whenever the caller
// keeps up. A Pacer is owned by one goroutine.
//
// With a rate of zero or less it paces nothing: every call releases max
// events at once (max-rate mode).
type Pacer struct {
	rate     float64
	start    time.Time
	released uint64
	timer    *time.Timer
}

// NewPacer returns a pacer whose clock starts now.
func NewPacer(rate float64) *Pacer {
	return &Pacer{rate: rate, start: time.Now()}
}

// Released returns how many events Next has released so far.
func (p *Pacer) Released() uint64 { return p.released }

// Start returns the instant the pacer's schedule began.
func (p *Pacer) Start() time.Time { return p.start }

// Next blocks until at least one event is due and returns how many are
// due (at most max) and the clock reading it used, which callers stamp on
// the whole burst instead of reading the clock per event. It returns
// ctx's error when ctx ends first.
func (p *Pacer) Next(ctx context.Context, max int) (int, time.Time, error) {
	if max <= 0 {
		max = 1
	}
	for {
		if err := ctx.Err(); err != nil {
			return 0, time.Time{}, err
		}
		now := time.Now()
		if p.rate <= 0 {
			p.released += uint64(max)
			return max, now, nil
		}
		due := uint64(now.Sub(p.start).Seconds() * p.rate)
		if due > p.released {
			n := due - p.released
			if n > uint64(max) {
				n = uint64(max)
			}
			p.released += n
			return int(n), now, nil
		}
		// Sleep until the next event is due. Timers fire late, never
		// early enough to matter: lateness becomes a burst, not a loss.
		at := p.start.Add(time.Duration(float64(p.released+1) / p.rate * float64(time.Second)))
		if err := p.sleep(ctx, at.Sub(now)); err != nil {
			return 0, time.Time{}, err
		}
	}
}

func (p *Pacer) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if p.timer == nil {
		p.timer = time.NewTimer(d)
	} else {
		p.timer.Reset(d)
	}
	select {
	case <-ctx.Done():
		p.timer.Stop()
		return ctx.Err()
	case <-p.timer.C:
		return nil
	}
}
