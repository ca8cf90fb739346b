package ring

import (
	"context"
	"sync/atomic"
	"time"

	"golang.org/x/sys/cpu"
)

// SPSC is a bounded single-producer, single-consumer ring of pointer-free
// records: a Lamport ring with head and tail on separate cache lines, each side
// caching the other side's index so that it touches the other side's cache
// line only when its cached view says the ring is full (producer) or empty
// (consumer).
//
// Producer methods (Push, PushBatch, Reserve, Commit) must be called by one
// goroutine at a time, consumer methods (Drain, Wait) by one goroutine at a
// time. Close, Dropped, Len and Cap may be called from any goroutine.
//
// Under DropOldest the producer evicts by advancing head with the same CAS the
// consumer uses to claim a batch, and a third index, released, tells the
// producer when the consumer has finished copying a claimed batch; a slot is
// only overwritten once its position is below released. Under Block and
// DropNewest only the consumer moves head, claiming and releasing a batch with
// a single store.
type SPSC[T any] struct {
	_ cpu.CacheLinePad
	// Producer's line.
	// tail is the next position to publish, | closedBit. Written by the
	// producer (CAS, so that a commit racing with Close fails cleanly) and by
	// Close (Or).
	tail atomic.Uint64
	// headCache is the producer's cached copy of the release index (head, or
	// released under DropOldest). The ring is full only if it looks full
	// with the cached value.
	headCache uint64
	resv      uint64 // length of the outstanding reservation
	_         cpu.CacheLinePad
	// Consumer's line.
	// head is the next position to consume.
	head atomic.Uint64
	// tailCache is the consumer's cached copy of tail (without closedBit).
	tailCache uint64
	_         cpu.CacheLinePad
	// released (DropOldest only): every position below it has been copied
	// out (or evicted) and its slot may be overwritten. Claims on head are
	// released strictly in order.
	released atomic.Uint64
	dropped  atomic.Uint64
	w        waiter

	// Read-only after construction.
	buf      []T
	mask     uint64
	capacity uint64
	policy   Policy
	onDrop   func(T)
}

// NewSPSC returns an empty SPSC ring. T must be pointer-free (see NewMPSC).
func NewSPSC[T any](o Options) (*SPSC[T], error) {
	c, err := o.config()
	if err != nil {
		return nil, err
	}
	if err := checkPointerFree[T](); err != nil {
		return nil, err
	}
	r := &SPSC[T]{
		buf:      make([]T, c.capacity),
		mask:     c.capacity - 1,
		capacity: c.capacity,
		policy:   c.policy,
	}
	r.w.init(c)
	return r, nil
}

// SetDropHook installs fn, called on the producer goroutine with every record
// dropped by Push or PushBatch (DropNewest) or evicted (DropOldest). Records a
// caller discards after Reserve returned ErrFull are counted but not passed
// to fn (the ring never saw them). Must be called before the ring is shared.
func (r *SPSC[T]) SetDropHook(fn func(T)) { r.onDrop = fn }

// Cap returns the capacity (a power of two).
func (r *SPSC[T]) Cap() int { return int(r.capacity) }

// Dropped returns the number of records dropped so far by the policy.
func (r *SPSC[T]) Dropped() uint64 { return r.dropped.Load() }

// Policy returns the ring's backpressure policy.
func (r *SPSC[T]) Policy() Policy { return r.policy }

// Len returns the number of committed records not yet consumed (snapshot).
func (r *SPSC[T]) Len() int {
	h := r.head.Load()
	t := r.tail.Load() &^ closedBit
	n := int64(t - h)
	if n < 0 {
		return 0
	}
	return int(min(n, int64(r.capacity)))
}

// Close closes the ring; idempotent, any goroutine. Later producer calls (and
// a Commit of an outstanding reservation) return ErrClosed; committed records
// stay drainable and Wait returns ErrClosed only after they are drained.
func (r *SPSC[T]) Close() {
	r.tail.Or(closedBit)
	r.w.close()
}

// releasedIdx is the position below which slots may be overwritten.
func (r *SPSC[T]) releasedIdx() uint64 {
	if r.policy == DropOldest {
		return r.released.Load()
	}
	return r.head.Load()
}

// Push enqueues v; results as for MPSC.Push. Producer only.
func (r *SPSC[T]) Push(ctx context.Context, v T) error {
	t := r.tail.Load()
	if t&closedBit != 0 {
		return ErrClosed
	}
	if t-r.headCache >= r.capacity {
		if err := r.makeRoom(ctx, t, 1); err != nil {
			if err == ErrFull {
				r.dropped.Add(1)
				if r.onDrop != nil {
					r.onDrop(v)
				}
			}
			return err
		}
	}
	r.buf[t&r.mask] = v
	// Publish after writing; the CAS fails only if Close set closedBit, in
	// which case v is not enqueued.
	if !r.tail.CompareAndSwap(t, t+1) {
		return ErrClosed
	}
	r.w.wakeConsumer()
	return nil
}

// Reserve hands the producer up to n consecutive free slots to fill in place;
// Commit(k) then publishes the first k of them with one store. Producer only;
// at most one reservation may be outstanding, and Push/PushBatch must not be
// called while one is.
//
// The returned slice is shorter than n when fewer slots are free or the run
// reaches the end of the backing array (call Reserve again for the rest). Per
// policy, when the ring is full:
//   - Block: waits for at least one free slot (ctx.Err() or ErrClosed);
//   - DropNewest: returns ErrFull and counts n records dropped: the caller is
//     expected to discard the n records it meant to write;
//   - DropOldest: evicts (and counts) the oldest records to make room for
//     min(n, Cap) slots.
//
// The slots contain stale records; the caller must overwrite all it commits.
func (r *SPSC[T]) Reserve(ctx context.Context, n int) ([]T, error) {
	s, err := r.reserve(ctx, n)
	if err == ErrFull {
		r.dropped.Add(uint64(n))
	}
	return s, err
}

func (r *SPSC[T]) reserve(ctx context.Context, n int) ([]T, error) {
	r.resv = 0
	if n <= 0 {
		return nil, nil
	}
	t := r.tail.Load()
	if t&closedBit != 0 {
		return nil, ErrClosed
	}
	i := t & r.mask
	k := min(uint64(n), r.capacity-i) // contiguous run to the end of buf
	if free := r.capacity - (t - r.headCache); free < k {
		r.headCache = r.releasedIdx()
		free = r.capacity - (t - r.headCache)
		switch {
		case free >= k:
		case r.policy == DropOldest:
			if err := r.makeRoom(ctx, t, k); err != nil {
				return nil, err
			}
		case free > 0:
			k = free
		default:
			if err := r.makeRoom(ctx, t, 1); err != nil {
				return nil, err
			}
			k = min(k, r.capacity-(t-r.headCache))
		}
	}
	r.resv = k
	return r.buf[i : i+k : i+k], nil
}

// Commit publishes the first k slots of the outstanding reservation (0 <= k
// <= its length; k == 0 abandons it). It returns ErrClosed, and publishes
// nothing, if the ring was closed in the meantime. Producer only.
func (r *SPSC[T]) Commit(k int) error {
	if k < 0 || uint64(k) > r.resv {
		panic("ring: Commit beyond reservation")
	}
	r.resv = 0
	t := r.tail.Load()
	if t&closedBit != 0 {
		return ErrClosed
	}
	if k == 0 {
		return nil
	}
	if !r.tail.CompareAndSwap(t, t+uint64(k)) {
		return ErrClosed
	}
	r.w.wakeConsumer()
	return nil
}

// PushBatch enqueues vs in order via Reserve/Commit; results as for
// MPSC.PushBatch (vs[:n] enqueued; under ErrFull vs[n:] dropped and counted).
// Producer only.
func (r *SPSC[T]) PushBatch(ctx context.Context, vs []T) (int, error) {
	n := 0
	for n < len(vs) {
		s, err := r.reserve(ctx, len(vs)-n)
		if err == nil {
			copy(s, vs[n:])
			err = r.Commit(len(s))
		}
		if err != nil {
			if err == ErrFull {
				r.dropped.Add(uint64(len(vs) - n))
				if r.onDrop != nil {
					for _, v := range vs[n:] {
						r.onDrop(v)
					}
				}
			}
			return n, err
		}
		n += len(s)
	}
	return n, nil
}

// makeRoom makes positions [t, t+need) writable (need <= capacity) by
// applying the policy; on nil return headCache is up to date. Producer only.
func (r *SPSC[T]) makeRoom(ctx context.Context, t, need uint64) error {
	spins := 0
	for {
		r.headCache = r.releasedIdx()
		if t+need-r.headCache <= r.capacity {
			return nil
		}
		switch r.policy {
		case DropNewest:
			return ErrFull
		case Block:
			err := r.w.producerWait(ctx, func(strict bool) waitState {
				if r.tail.Load()&closedBit != 0 {
					return stateClosed
				}
				limit := r.capacity
				if strict {
					limit /= 2
				}
				if t+need-r.releasedIdx() <= limit {
					return stateReady
				}
				return stateNotReady
			})
			if err != nil {
				return err
			}
			continue
		}
		// DropOldest.
		target := t + need - r.capacity
		h := r.head.Load()
		if h >= target {
			// The consumer has claimed what we need and is copying it out.
			spinWait(&spins)
			continue
		}
		if !r.head.CompareAndSwap(h, target) {
			continue // the consumer claimed a batch meanwhile
		}
		// [h, target) is ours. Claims are released in order: wait for the
		// consumer's in-flight batch below h, if any.
		for r.released.Load() != h {
			spinWait(&spins)
		}
		if r.onDrop != nil {
			for p := h; p < target; p++ {
				r.onDrop(r.buf[p&r.mask])
			}
		}
		r.released.Store(target)
		r.dropped.Add(target - h)
	}
}

// Drain copies up to len(dst) committed records, oldest first, into dst and
// removes them; it never blocks. Consumer only.
func (r *SPSC[T]) Drain(dst []T) int {
	if len(dst) == 0 {
		return 0
	}
	for {
		h := r.head.Load()
		want := uint64(len(dst))
		if int64(r.tailCache-h) < int64(want) {
			r.tailCache = r.tail.Load() &^ closedBit
		}
		avail := int64(r.tailCache - h)
		if avail <= 0 {
			return 0
		}
		n := min(uint64(avail), want)
		if r.policy == DropOldest {
			// Claim first: copying before winning head would race with an
			// evicting producer.
			if !r.head.CompareAndSwap(h, h+n) {
				continue
			}
		}
		i := h & r.mask
		c := copy(dst[:n], r.buf[i:])
		copy(dst[c:n], r.buf)
		if r.policy == DropOldest {
			spins := 0
			for r.released.Load() != h { // an eviction below h is finishing
				spinWait(&spins)
			}
			r.released.Store(h + n)
			return int(n)
		}
		// Release the whole batch with one store, after copying.
		r.head.Store(h + n)
		if r.w.producersWaiting() && r.spaceForParked() {
			r.w.signalSpace()
		}
		return int(n)
	}
}

// spaceForParked is the strict space condition a parked Block producer waits
// for: half the ring free (need <= Cap/2 when Reserve asked for more is
// covered too, as the producer re-polls with its own need once woken).
func (r *SPSC[T]) spaceForParked() bool {
	return (r.tail.Load()&^closedBit)-r.head.Load() <= r.capacity/2
}

// pollRecords is the consumer's wait condition.
func (r *SPSC[T]) pollRecords() waitState {
	h := r.head.Load()
	if int64(r.tailCache-h) > 0 {
		return stateReady
	}
	t := r.tail.Load()
	r.tailCache = t &^ closedBit
	if int64(r.tailCache-h) > 0 {
		return stateReady
	}
	if t&closedBit != 0 {
		return stateClosed
	}
	return stateNotReady
}

// Wait blocks until records are ready (nil), the timeout elapses (nil;
// timeout <= 0 means none), the ring is closed and drained (ErrClosed) or ctx
// is done (ctx.Err()). Spin, yield, then park. Once records are ready it may
// linger up to Options.BatchLinger for more (see there), without checking
// ctx meanwhile. Consumer only.
func (r *SPSC[T]) Wait(ctx context.Context, timeout time.Duration) error {
	if r.pollRecords() != stateReady {
		if err := r.w.consumerWait(ctx, timeout, r.pollRecords); err != nil {
			return err
		}
	}
	r.w.lingerWait(r.readyCount)
	return nil
}

// readyCount reports the committed records not yet consumed and whether the
// ring is closed, for Options.BatchLinger. Consumer only (it refreshes
// tailCache).
func (r *SPSC[T]) readyCount() (uint64, bool) {
	t := r.tail.Load()
	r.tailCache = t &^ closedBit
	return r.tailCache - r.head.Load(), t&closedBit != 0
}
