package ring

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/cpu"
)

// waitState is what a poll function reports to the wait loops.
type waitState uint8

const (
	stateNotReady waitState = iota // nothing to consume / no space yet
	stateReady                     // records to consume / space to produce
	stateClosed                    // consumer: closed and drained; producer: closed
)

// waiter is the wait-strategy state shared by both ring kinds: the consumer's
// parking handshake, the blocked producers' parking handshake and the close
// broadcast.
//
// The flags producers poll on every push (parked) and the consumer polls on
// every drain (spaceWaiters) are written only when somebody parks, so in the
// steady state their cache line stays shared between cores and polling it
// costs an L1 hit.
type waiter struct {
	_ cpu.CacheLinePad
	// parked is 1 while the consumer is parked (or about to park) on notify.
	// A producer that publishes a record and then sees parked == 1 CASes it
	// to 0 and sends one token; the CAS makes sure only one producer pays for
	// the channel operation per parking.
	parked atomic.Uint32
	// spaceWaiters counts producers parked (or about to park) on space.
	spaceWaiters atomic.Int32
	// closed (MPSC) is 1 once Close has begun. Lane producers poll it
	// before and after publishing (see lane); it is on this line because
	// they already load parked after every publish.
	closed atomic.Uint32
	_      cpu.CacheLinePad

	notify chan struct{} // capacity 1: producers -> parked consumer
	space  chan struct{} // capacity 1: consumer -> parked producers
	done   chan struct{} // closed by Close: wakes everybody

	closeOnce sync.Once
	spin      int
	linger    time.Duration // Options.BatchLinger; 0: disabled
	batch     uint64        // Options.BatchTarget, capped
	timer     *time.Timer   // consumer-only; reused so Wait does not allocate
}

func (w *waiter) init(c config) {
	spin := c.spin
	w.linger = c.linger
	w.batch = c.batch
	if runtime.GOMAXPROCS(0) < 2 {
		w.linger = 0 // see Options.BatchLinger
	}
	w.notify = make(chan struct{}, 1)
	w.space = make(chan struct{}, 1)
	w.done = make(chan struct{})
	w.spin = spin
	w.timer = time.NewTimer(time.Hour)
	w.timer.Stop()
}

// close wakes a parked consumer and all parked producers. Callers must have
// made the ring's closed state visible (the closed bit in tail) before.
func (w *waiter) close() {
	w.closeOnce.Do(func() { close(w.done) })
}

// wakeConsumer is called by producers after publishing. It must run after the
// publishing atomic store: the consumer stores parked=1 and then polls, the
// producer publishes and then loads parked; with sequentially consistent
// atomics at least one of the two sees the other, so no wakeup is lost.
func (w *waiter) wakeConsumer() {
	if w.parked.Load() != 0 {
		w.wakeConsumerSlow()
	}
}

func (w *waiter) wakeConsumerSlow() {
	if w.parked.CompareAndSwap(1, 0) {
		select {
		case w.notify <- struct{}{}:
		default: // a token is already pending
		}
	}
}

// producersWaiting is polled by the consumer after releasing slots; if true,
// the consumer checks the space condition and calls signalSpace. Same
// store-then-load handshake as wakeConsumer, mirrored: producers increment
// spaceWaiters and then poll; the consumer releases and then loads it.
func (w *waiter) producersWaiting() bool { return w.spaceWaiters.Load() > 0 }

func (w *waiter) signalSpace() { signal(w.space) }

// signal puts a token in a capacity-1 channel unless one is pending.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default: // a token is already pending
	}
}

// consumerWait implements Wait: spin, yield, park. poll must not block.
func (w *waiter) consumerWait(ctx context.Context, timeout time.Duration, poll func() waitState) error {
	for range w.spin {
		switch poll() {
		case stateReady:
			return nil
		case stateClosed:
			return ErrClosed
		}
	}
	var start time.Time
	if timeout > 0 {
		start = time.Now()
	}
	for range yieldBudget {
		runtime.Gosched()
		switch poll() {
		case stateReady:
			return nil
		case stateClosed:
			return ErrClosed
		}
	}
	var timerC <-chan time.Time
	if timeout > 0 {
		left := timeout - time.Since(start)
		if left <= 0 {
			return nil
		}
		w.timer.Reset(left)
		defer w.timer.Stop()
		timerC = w.timer.C
	}
	for {
		// Announce, then re-check: see wakeConsumer.
		w.parked.Store(1)
		switch poll() {
		case stateReady:
			w.parked.Store(0)
			return nil
		case stateClosed:
			w.parked.Store(0)
			return ErrClosed
		}
		select {
		case <-w.notify:
		case <-w.done:
			// Closed, but poll said not drained: a producer that claimed a
			// slot before Close is still writing it. Yield until it
			// publishes.
			runtime.Gosched()
		case <-ctx.Done():
			w.parked.Store(0)
			return ctx.Err()
		case <-timerC:
			w.parked.Store(0)
			return nil
		}
		// A stale token (from a producer that saw parked=1 just before we
		// reset it) only causes one extra poll.
		w.parked.Store(0)
		switch poll() {
		case stateReady:
			return nil
		case stateClosed:
			return ErrClosed
		}
	}
}

// lingerPoll is the first interval at which a lingering consumer re-reads
// the producers' index. Every read pulls that cache line away from the
// producers (their next claim or publish then misses on it), so the
// consumer does not hammer it: after the first poll it estimates the
// producers' rate and sleeps-spins (reading only the clock, which touches no
// shared memory) until the target should be reached, a handful of polls per
// batch at most.
const lingerPoll = 250 * time.Nanosecond

// lingerWait implements Options.BatchLinger. ready reports how many records
// the ring holds (an estimate is fine: it only decides when to stop waiting)
// and whether it is closed. lingerWait returns at once if nothing is ready,
// and otherwise once w.batch records are ready, the ring is closed, or
// w.linger has passed. It never blocks and never parks, so it adds at most
// w.linger to Wait.
func (w *waiter) lingerWait(ready func() (n uint64, closed bool)) {
	if w.linger <= 0 {
		return
	}
	n0, closed := ready()
	if n0 == 0 || n0 >= w.batch || closed {
		return
	}
	start := time.Now()
	next := min(lingerPoll, w.linger)
	for {
		d := time.Since(start)
		if d < next {
			continue
		}
		n, closed := ready()
		if n >= w.batch || closed || d >= w.linger {
			return
		}
		// Poll again when, at the rate seen so far, the target should be
		// reached; at least lingerPoll/2 later, at most at the deadline.
		wait := lingerPoll
		if n > n0 {
			wait = time.Duration(uint64(d) / (n - n0) * (w.batch - n))
		}
		next = min(d+max(wait, lingerPoll/2), w.linger)
	}
}

// producerWait waits until poll reports space (nil), closure (ErrClosed) or
// ctx is done (ctx.Err()). Used by the Block policy.
//
// poll(false) asks for any free slot; poll(true) asks for the park threshold
// (half the ring free). While spinning and yielding a producer continues as
// soon as one slot is free, but once it has parked it is only woken when half
// the ring is free: a producer that outruns the consumer then pays one
// park/unpark (a futex round trip, microseconds) per half ring instead of per
// drained batch. The consumer signals with the same strict condition, and
// the ring draining to empty always satisfies it, so no wakeup is lost.
func (w *waiter) producerWait(ctx context.Context, poll func(strict bool) waitState) error {
	return w.producerWaitOn(ctx, &w.spaceWaiters, w.space, poll)
}

// producerWaitOn is producerWait with the parking spot given: waiters counts
// the producers parked on space, which the consumer signals. Producers that
// wait for the same condition must share a spot (the token is passed on
// between them); an MPSC lane has its own, for its one producer.
func (w *waiter) producerWaitOn(ctx context.Context, waiters *atomic.Int32, space chan struct{}, poll func(strict bool) waitState) error {
	for range w.spin {
		switch poll(false) {
		case stateReady:
			return nil
		case stateClosed:
			return ErrClosed
		}
	}
	for range yieldBudget {
		runtime.Gosched()
		switch poll(false) {
		case stateReady:
			return nil
		case stateClosed:
			return ErrClosed
		}
	}
	for {
		waiters.Add(1)
		st := poll(true)
		if st == stateNotReady {
			select {
			case <-space:
			case <-w.done:
			case <-ctx.Done():
				waiters.Add(-1)
				return ctx.Err()
			}
			st = poll(false)
		}
		waiters.Add(-1)
		switch st {
		case stateReady:
			// Pass the token on while there is plenty of space, so that one
			// consumer signal can wake a chain of producers. Never pass it on
			// without space: two parked producers would ping-pong it.
			if waiters.Load() > 0 && poll(true) == stateReady {
				signal(space)
			}
			return nil
		case stateClosed:
			return ErrClosed
		}
	}
}

// spinWait is used for short, bounded waits on another party that is in the
// middle of a few-instruction critical step (a producer between claiming and
// publishing a slot, a consumer between claiming and releasing a batch). It
// yields after the spin budget so a preempted party on the same core can run.
func spinWait(i *int) {
	*i++
	if *i > 64 {
		runtime.Gosched()
	}
}
