package ring

// epoch is the consumer's drain state once an MPSC has lanes (see
// drainLanes).
type epoch struct {
	lanes     bool // Drain has seen a lane: it drains in epochs from now on
	active    bool
	sharedEnd uint64 // shared-lane positions below it belong to the epoch
	nl        int    // lanes[:nl] belong to it, each up to its lane.target
	next      int    // the lane the next Drain starts with (round robin)
}

// drainLanes is Drain once the ring has lanes. It works in epochs. An epoch
// begins with a snapshot: first of the shared lane's published records (at
// most len(dst) of them), then of each lane's tail (lane.target). Drain
// copies the lanes' records up to their targets, and only after all of them
// the snapshotted shared-lane records; what was published after the snapshot
// waits for the next epoch. When dst fills up first, the epoch carries over
// to the next Drain.
//
// Ordering: the consumer loads a lane's tail after it has seen a shared
// record S published. A lane record whose push completed before S's push
// started was published (tail store) before S was, so it is below the
// lane's target and is returned before S.
//
// Fairness: a lane's share of an epoch is what it had published at the
// snapshot, the shared lane's at most one dst, and each Drain starts with
// the next lane, so with a small dst the lanes take turns and none waits
// longer than one epoch.
func (r *MPSC[T]) drainLanes(dst []T) int {
	e := &r.ep
	n := 0
	for n < len(dst) {
		fresh := !e.active
		if fresh && !r.snapshot(len(dst)) {
			break
		}
		got := 0
		done := true
		for j := range e.nl {
			i := (e.next + j) % e.nl
			l := r.lanes[i].Load()
			if l.sealed {
				continue
			}
			k := r.drainLane(l, dst[n:])
			n += k
			got += k
			if l.head.Load() < l.target {
				done = false // dst is full
				break
			}
		}
		if !done {
			break
		}
		k := r.drainSharedTo(dst[n:], e.sharedEnd)
		n += k
		got += k
		if r.head.Load() < e.sharedEnd {
			break // dst is full
		}
		e.active = false
		if got == 0 && fresh {
			break // (DropOldest) evicting producers took what we saw
		}
	}
	if e.nl > 0 {
		e.next = (e.next + 1) % e.nl
	}
	return n
}

// snapshot begins an epoch (see drainLanes) and reports whether it holds any
// record.
func (r *MPSC[T]) snapshot(limit int) bool {
	e := &r.ep
	h := r.head.Load()
	e.sharedEnd = r.sharedPublished(h, uint64(limit))
	found := e.sharedEnd != h
	// The lanes' tails after the shared lane's sequence words: see drainLanes.
	e.nl = int(r.nlanes.Load())
	for i := range e.nl {
		l := r.lanes[i].Load()
		if l.sealed {
			continue
		}
		l.target = l.tail.Load()
		if l.target != l.head.Load() {
			found = true
		}
	}
	e.active = found
	return found
}

// sharedPublished returns the end of the run of published shared-lane
// positions starting at h (the head), at most limit long.
func (r *MPSC[T]) sharedPublished(h, limit uint64) uint64 {
	n := uint64(0)
	if r.vyukov {
		for n < limit && r.slots[(h+n)&r.mask].seq.Load() == h+n+1 {
			n++
		}
		return h + n
	}
	left := r.runLeft
	for n < limit {
		if left == 0 {
			p := h + n
			s := &r.slots[p&r.mask]
			if s.seq.Load() != p+1 {
				break
			}
			left = s.run // read after the seq load that published it
		}
		k := min(left, limit-n)
		n += k
		left -= k
	}
	return h + n
}

// drainSharedTo drains shared-lane positions below end, all known to be
// published (or, under DropOldest, evicted).
func (r *MPSC[T]) drainSharedTo(dst []T, end uint64) int {
	if !r.vyukov {
		h := r.head.Load()
		if h >= end {
			return 0
		}
		n, _ := r.drainShared(dst[:min(uint64(len(dst)), end-h)], false)
		return n
	}
	n := 0
	for n < len(dst) && r.head.Load() < end {
		// 0 only when an evicting producer has just moved head: retry.
		k, _ := r.drainVyukov(dst[n:], end, false)
		n += k
	}
	return n
}

// drainLane copies l's records below l.target into dst.
func (r *MPSC[T]) drainLane(l *lane[T], dst []T) int {
	for len(dst) > 0 {
		h := l.head.Load()
		if h >= l.target {
			return 0
		}
		n := min(l.target-h, uint64(len(dst)))
		if l.policy == DropOldest && !l.head.CompareAndSwap(h, h+n) {
			continue // the owner evicted meanwhile
		}
		i := h & l.mask
		c := copy(dst[:n], l.buf[i:])
		copy(dst[c:n], l.buf)
		if l.policy == DropOldest {
			spins := 0
			for l.released.Load() != h { // an eviction below h is finishing
				spinWait(&spins)
			}
			l.released.Store(h + n)
			return int(n)
		}
		// Release the run with one store, after copying.
		l.head.Store(h + n)
		if l.spaceWaiters.Load() > 0 && l.tail.Load()-(h+n) <= l.capacity/2 {
			signal(l.space)
		}
		return int(n)
	}
	return 0
}

// sealLanes settles every lane at Close (see lane). The consumer calls it
// once it has seen the shared lane closed and drained, i.e. after loading
// closedBit, which Close sets after the closed flag that lane owners poll.
// It reports whether some lane still has records to drain; false means every
// lane is sealed, so Wait may return ErrClosed.
func (r *MPSC[T]) sealLanes() bool {
	for i := range r.nlanes.Load() {
		l := r.lanes[i].Load()
		for !l.sealed {
			h := l.head.Load()
			if l.tail.Load() != h {
				return true
			}
			switch f := l.fin.Load(); f {
			case finOwner:
				// The owner published before it set fin, and it pushes no
				// more: one more look at tail decides.
				if l.tail.Load() != h {
					return true
				}
				l.sealed = true
			case 0:
				// The lane is empty at h. Seal it there, unless the owner
				// settles first (then look again).
				if l.fin.CompareAndSwap(0, finSealed|h) {
					l.sealed = true
				}
			default:
				l.sealed = true
			}
		}
	}
	return false
}
