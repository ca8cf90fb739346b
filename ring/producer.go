package ring

import (
	"context"

	"golang.org/x/sys/cpu"
)

// Producer is a handle for pushing into an MPSC, from one goroutine at a
// time. A handle from NewProducer normally owns an exclusive lane; when all
// lanes are taken (or the ring has none, or is closed) it pushes through the
// shared lane, with MPSC.Push and MPSC.PushBatch, so it is always usable.
// Push and PushBatch have the contracts of MPSC.Push and MPSC.PushBatch,
// except that DropOldest evicts the oldest record of the handle's own lane.
//
// Records pushed through one handle are drained in order. Records pushed
// through different handles are not ordered, even from one goroutine,
// except as the MPSC doc says for the shared lane.
type Producer[T any] struct {
	_ cpu.CacheLinePad
	// The owner's state of its lane (l != nil), on the handle's own line:
	// tail is a plain copy of l.tail, which only the owner stores;
	// headCache is its copy of the lane's release index (head, or released
	// under DropOldest), refreshed when the lane looks full; the rest is
	// copied from the lane so that a push reaches it in one step.
	tail      uint64
	headCache uint64
	buf       []T
	mask      uint64
	capacity  uint64
	w         *waiter
	l         *lane[T] // nil: the shared lane
	r         *MPSC[T]
	released  bool
	_         cpu.CacheLinePad
}

// NewProducer returns a producer handle. It takes a free lane: first one
// that an earlier handle released and the consumer has drained since, else a
// new one (allocated now; at most Options.Lanes are). If every lane is taken,
// the ring has no lanes or it is closed, the handle pushes through the shared
// lane. Safe for concurrent use; not meant for a hot path (it takes a lock
// and may allocate Capacity records).
func (r *MPSC[T]) NewProducer() *Producer[T] {
	p := &Producer[T]{r: r, w: &r.w}
	if len(r.lanes) == 0 || r.w.closed.Load() != 0 {
		return p
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	nl := int(r.nlanes.Load())
	for i := range nl {
		if l := r.lanes[i].Load(); !l.owned && l.drained() {
			// The previous owner's last store to tail and the consumer's
			// last release are atomics we have loaded: happens-before for
			// the slots we will overwrite.
			p.own(l)
			return p
		}
	}
	if nl < len(r.lanes) {
		l := newLane(r)
		r.lanes[nl].Store(l)
		r.nlanes.Store(int32(nl + 1)) // after the lane: the consumer loads nlanes first
		p.own(l)
	}
	return p
}

// own makes p the owner of l. Called with r.mu held.
func (p *Producer[T]) own(l *lane[T]) {
	l.owned = true
	p.l = l
	p.tail = l.tail.Load()
	p.headCache = l.releasedIdx()
	p.buf, p.mask, p.capacity = l.buf, l.mask, l.capacity
}

// Exclusive reports whether the handle owns a lane (false: it pushes through
// the shared lane).
func (p *Producer[T]) Exclusive() bool { return p.l != nil }

// Release gives the handle's lane back. Records already pushed stay
// drainable; the lane is handed to a later NewProducer only once the
// consumer has drained it. The handle must not be used afterwards (its Push
// and PushBatch return ErrClosed). Idempotent.
func (p *Producer[T]) Release() {
	if p.released {
		return
	}
	p.released = true
	if l := p.l; l != nil {
		p.l, p.buf = nil, nil
		p.r.mu.Lock()
		l.owned = false
		p.r.mu.Unlock()
	}
}

// Push enqueues v; results as for MPSC.Push. Under DropOldest it evicts the
// oldest record of the handle's lane. One goroutine at a time.
func (p *Producer[T]) Push(ctx context.Context, v T) error {
	// The fast path: every word it reads but the flags is on the handle's
	// line, and it makes no call.
	if l := p.l; l != nil {
		if t := p.tail; t-p.headCache < p.capacity && p.w.closed.Load() == 0 {
			p.buf[t&p.mask] = v
			l.tail.Store(t + 1) // publish after writing
			p.tail = t + 1
			if p.w.closed.Load()|p.w.parked.Load() == 0 {
				return nil
			}
			return p.published(t, t+1)
		}
	}
	return p.pushSlow(ctx, v)
}

// pushSlow is Push when the handle has no lane, the ring is closed or the
// lane looks full.
func (p *Producer[T]) pushSlow(ctx context.Context, v T) error {
	l := p.l
	if l == nil {
		if p.released {
			return ErrClosed
		}
		return p.r.Push(ctx, v)
	}
	if p.w.closed.Load() != 0 {
		return ErrClosed
	}
	t := p.tail
	if err := p.makeRoom(ctx, t, 1); err != nil {
		if err == ErrFull {
			l.dropped.Add(1)
			if p.r.onDrop != nil {
				p.r.onDrop(v)
			}
		}
		return err
	}
	p.buf[t&p.mask] = v
	l.tail.Store(t + 1)
	p.tail = t + 1
	return p.published(t, t+1)
}

// published finishes a push of the run [t0, t1) just published: it settles a
// race with Close, and wakes a parked consumer.
func (p *Producer[T]) published(t0, t1 uint64) error {
	if p.w.closed.Load() != 0 {
		return p.closeRace(t0, t1)
	}
	p.w.wakeConsumer()
	return nil
}

// PushBatch enqueues vs in order; results as for MPSC.PushBatch. Each run
// of free slots is published with one store and wakes the consumer at most
// once; under DropOldest, records that do not fit evict the lane's oldest
// ones (counted). One goroutine at a time.
func (p *Producer[T]) PushBatch(ctx context.Context, vs []T) (int, error) {
	l := p.l
	if l == nil {
		if p.released {
			return 0, ErrClosed
		}
		return p.r.PushBatch(ctx, vs)
	}
	n := 0
	for n < len(vs) {
		if p.w.closed.Load() != 0 {
			return n, ErrClosed
		}
		t := p.tail
		want := uint64(len(vs) - n)
		free := p.capacity - (t - p.headCache)
		if free < want {
			p.headCache = l.releasedIdx()
			free = p.capacity - (t - p.headCache)
			if free == 0 || (free < want && l.policy == DropOldest) {
				need := uint64(1)
				if l.policy == DropOldest {
					need = min(want, p.capacity)
				}
				if err := p.makeRoom(ctx, t, need); err != nil {
					if err == ErrFull {
						l.dropped.Add(want)
						if p.r.onDrop != nil {
							for _, v := range vs[n:] {
								p.r.onDrop(v)
							}
						}
					}
					return n, err
				}
				free = p.capacity - (t - p.headCache)
			}
		}
		k := int(min(want, free))
		c := copy(p.buf[t&p.mask:], vs[n:n+k])
		copy(p.buf, vs[n+c:n+k])
		l.tail.Store(t + uint64(k)) // publishes the whole run
		p.tail = t + uint64(k)
		if p.w.closed.Load() != 0 {
			if err := p.closeRace(t, t+uint64(k)); err != nil {
				return n, err
			}
			n += k
			if n < len(vs) {
				return n, ErrClosed
			}
			return n, nil
		}
		n += k
		p.w.wakeConsumer()
	}
	return n, nil
}

// closeRace settles the owner's run [t0, t1), just published, after it saw
// Close (see lane): nil if the run counts (the consumer will drain it or
// already has), ErrClosed if it was taken back.
func (p *Producer[T]) closeRace(t0, t1 uint64) error {
	l := p.l
	if l.fin.CompareAndSwap(0, finOwner) {
		p.w.wakeConsumer()
		return nil
	}
	f := l.fin.Load()
	if f == finOwner || f&^finSealed >= t1 {
		// finOwner: set by this lane's owner earlier, which cannot have
		// pushed since; >= t1: the consumer drained the run, then sealed.
		return nil
	}
	// The consumer found the lane empty at t0 and sealed it: it never
	// looks at the lane again.
	l.tail.Store(t0)
	p.tail = t0
	return ErrClosed
}

// makeRoom makes positions [t, t+need) writable (need <= capacity) by
// applying the policy; on nil return headCache is up to date. Owner only.
func (p *Producer[T]) makeRoom(ctx context.Context, t, need uint64) error {
	l := p.l
	spins := 0
	for {
		p.headCache = l.releasedIdx()
		if t+need-p.headCache <= p.capacity {
			return nil
		}
		switch l.policy {
		case DropNewest:
			return ErrFull
		case Block:
			err := p.w.producerWaitOn(ctx, &l.spaceWaiters, l.space, func(strict bool) waitState {
				if p.w.closed.Load() != 0 {
					return stateClosed
				}
				limit := p.capacity
				if strict {
					limit /= 2
				}
				if t+need-l.releasedIdx() <= limit {
					return stateReady
				}
				return stateNotReady
			})
			if err != nil {
				return err
			}
			continue
		}
		// DropOldest, as in SPSC.makeRoom.
		target := t + need - p.capacity
		h := l.head.Load()
		if h >= target {
			// The consumer has claimed what we need and is copying it out.
			spinWait(&spins)
			continue
		}
		if !l.head.CompareAndSwap(h, target) {
			continue // the consumer claimed a run meanwhile
		}
		// [h, target) is ours once the consumer's run below h, if any, is
		// released.
		for l.released.Load() != h {
			spinWait(&spins)
		}
		if onDrop := p.r.onDrop; onDrop != nil {
			for q := h; q < target; q++ {
				onDrop(p.buf[q&p.mask])
			}
		}
		l.released.Store(target)
		l.dropped.Add(target - h)
	}
}
