package ring

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/cpu"
)

// closedBit is set in a ring's tail word by Close. Keeping it in the same
// word that producers claim or publish with (CAS) makes "claimed before
// Close" and "rejected because closed" mutually exclusive: no producer can
// slip a record in after the consumer has concluded the ring is closed and
// empty.
const closedBit = 1 << 63

// mslot is one MPSC slot: a sequence word next to the record. Producers
// finish writing their claimed slots in any order, so each slot says for
// itself whether it is published.
type mslot[T any] struct {
	seq atomic.Uint64
	// run (head-release mode only) is the length of the run of slots a
	// producer claimed and published together, set on the run's first slot
	// before its seq is stored. The other slots of the run are published by
	// that one store; the consumer tracks how much of the current run is left
	// and does not look at their seq words.
	run uint64
	val T
}

// MPSC is a bounded multi-producer, single-consumer ring of pointer-free
// records.
//
// Any number of goroutines may call Push, PushBatch, NewProducer, Close,
// Dropped, Len and Cap concurrently. Drain and Wait are consumer methods: one
// goroutine at a time.
//
// # Lanes
//
// An MPSC has a shared lane, which Push and PushBatch use, and up to
// Options.Lanes producer lanes (default 8). NewProducer hands out a Producer
// that owns a lane: a single-producer sub-ring of Cap records that its
// owner pushes to with a plain slot write and one atomic store, without a
// CAS and without sharing a cache line with other producers (see lane). A
// goroutine that pushes a lot should take one. When every lane is taken,
// NewProducer returns a handle that pushes through the shared lane, so a
// handle always works. Lanes are allocated by the NewProducer call that
// first needs them: the ring holds at most (Lanes+1)×Cap records.
// Release gives a lane back for a later NewProducer, once it is drained.
//
// Drain, Wait, Len, Dropped and Close cover all lanes; Close closes every
// lane, and Wait returns ErrClosed once every lane is drained. Policies
// apply per lane: DropOldest evicts the oldest record of the pushing lane
// (the shared lane's oldest for Push and PushBatch).
//
// # Order
//
// Each lane is FIFO: the records of a producer lane are drained in the
// order its owners pushed them; those of the shared lane in the order their
// positions were claimed, which for pushes from one goroutine is program
// order. Between lanes Drain guarantees one thing: if a push to a producer
// lane (Producer.Push or PushBatch) returned before a push to the shared
// lane (Push or PushBatch) started, in the Go memory model's happens-before
// order (in one goroutine, or ordered by a channel, a mutex or an atomic),
// then Drain returns the lane record before the shared-lane record, possibly
// in an earlier call. This is what lets the pipeline push a watermark marker
// through the shared lane after the readings it covers went through
// producer lanes. Records the policy drops are not drained at all. Nothing
// else is ordered between lanes: in particular there is no order between
// two producer lanes, nor from the shared lane to a producer lane. (A
// Producer without a lane pushes to the shared lane, and its pushes are
// shared-lane pushes.)
//
// Drain works in epochs to keep that promise: it first notes which
// shared-lane records are published (at most len(dst)), then how far each
// producer lane is published, drains the producer lanes up to there and
// only then returns the noted shared-lane records. It serves the producer
// lanes in turn, starting with a different one on each call, so no lane
// starves when dst is small; the shared lane gets up to len(dst) records
// per epoch.
//
// # The shared lane
//
// Producers claim positions with a CAS on tail, write the slot, and publish
// it by storing seq = pos+1. The consumer reads a slot only after loading
// seq == pos+1, so it never sees a half-written record, even when producers
// finish out of order (it stops at the first unpublished slot).
//
// How slots are released depends on the policy:
//
// Block and DropNewest ("head release"): only the consumer dequeues. It copies
// a run of published slots and releases the whole run with one store to head.
// A producer that claims k slots with one CAS (PushBatch) publishes all k with
// one store to the first slot's seq, which also records k (mslot.run).
// A producer claims position pos only if pos-head < Cap, i.e. after loading a
// head value the consumer stored after copying the slot's previous record. The
// consumer issues no atomic write per record; producers read head, which is
// written once per drained batch, so in the steady state the load hits a
// shared cache line.
//
// DropOldest ("Vyukov"): evicting producers dequeue too, with the same CAS on
// head the consumer uses to claim a run, and a producer must never overwrite a
// slot that the consumer has claimed but not finished copying. A single head
// cannot express that, so the slot's sequence word also carries the release
// (Vyukov's bounded queue). For the slot serving position p:
//
//	seq == p       free: a producer may claim position p
//	seq == p+1     published: readable, may be dequeued (consumer or evictor)
//	seq == p+cap   released by its dequeuer: free for position p+cap
//
// Each handover is an atomic store observed by an atomic load, giving the
// happens-before edges that make slot reads and writes race-free.
type MPSC[T any] struct {
	_ cpu.CacheLinePad
	// tail is the next position producers claim (CAS), | closedBit.
	tail atomic.Uint64
	// headCache (head-release mode) is a lower bound of head shared by the
	// producers, on the line they already own for the tail CAS. A producer
	// reads the consumer's head line only when headCache says the ring is
	// full, and then refreshes headCache; in the steady state producers do
	// not miss on head each time the consumer drains a batch. Safety: a
	// producer loaded the value from head (after the consumer's release
	// store) before storing it here, so the happens-before chain holds.
	headCache atomic.Uint64
	_         cpu.CacheLinePad
	// head is the next position to dequeue. Only the consumer writes it,
	// except under DropOldest, where evicting producers CAS it too.
	head atomic.Uint64
	// runLeft (consumer-owned, head-release mode) is how many slots of the
	// run containing head are still to be consumed; they are known to be
	// published.
	runLeft uint64
	ep      epoch // consumer-owned, with lanes: see drainLanes
	_       cpu.CacheLinePad
	// dropped counts records rejected (DropNewest) or evicted (DropOldest).
	dropped atomic.Uint64
	w       waiter

	// Read-only after construction.
	slots    []mslot[T]
	mask     uint64
	capacity uint64
	policy   Policy
	vyukov   bool // policy == DropOldest: per-slot release
	onDrop   func(T)

	// Producer lanes (lane.go). lanes has Options.Lanes entries, of which
	// the first nlanes are allocated; nlanes only grows and is stored after
	// the lane it counts. mu serializes NewProducer and Release.
	lanes  []atomic.Pointer[lane[T]]
	nlanes atomic.Int32
	mu     sync.Mutex
}

// NewMPSC returns an empty MPSC ring. T must be pointer-free (no pointers,
// strings, slices, maps, channels, funcs or interfaces at any depth);
// otherwise the error wraps ErrPointers.
func NewMPSC[T any](o Options) (*MPSC[T], error) {
	c, err := o.config()
	if err != nil {
		return nil, err
	}
	if err := checkPointerFree[T](); err != nil {
		return nil, err
	}
	r := &MPSC[T]{
		slots:    make([]mslot[T], c.capacity),
		mask:     c.capacity - 1,
		capacity: c.capacity,
		policy:   c.policy,
		vyukov:   c.policy == DropOldest,
		lanes:    make([]atomic.Pointer[lane[T]], c.lanes),
	}
	if r.vyukov {
		for i := range r.slots {
			r.slots[i].seq.Store(uint64(i)) // free for position i
		}
	}
	// Head release: seq 0 never equals p+1, so every slot starts unpublished.
	r.w.init(c)
	return r, nil
}

// SetDropHook installs fn, called with every record the ring drops: the
// rejected record under DropNewest, the evicted one under DropOldest. It runs
// on the producer goroutine that caused the drop, after the record has left
// the ring; it must be fast and must not block. SetDropHook must be called
// before the ring is shared between goroutines.
func (r *MPSC[T]) SetDropHook(fn func(T)) { r.onDrop = fn }

// Cap returns the capacity (a power of two).
func (r *MPSC[T]) Cap() int { return int(r.capacity) }

// Dropped returns the number of records dropped so far by the policy, on
// all lanes.
func (r *MPSC[T]) Dropped() uint64 {
	n := r.dropped.Load()
	for i := range r.nlanes.Load() {
		n += r.lanes[i].Load().dropped.Load()
	}
	return n
}

// Policy returns the ring's backpressure policy.
func (r *MPSC[T]) Policy() Policy { return r.policy }

// Len returns the number of records claimed by producers and not yet
// dequeued (including ones being written), on all lanes. It is a snapshot.
func (r *MPSC[T]) Len() int {
	h := r.head.Load()
	t := r.tail.Load() &^ closedBit
	n := max(min(int64(t-h), int64(r.capacity)), 0)
	for i := range r.nlanes.Load() {
		l := r.lanes[i].Load()
		h := l.head.Load()
		n += max(min(int64(l.tail.Load()-h), int64(l.capacity)), 0)
	}
	return int(n)
}

// Close closes the ring, every lane included. It is idempotent and may be
// called from any goroutine. Subsequent (and blocked) Push calls, on the
// ring or on a Producer, return ErrClosed; records already enqueued stay
// drainable, and Wait returns ErrClosed only once they have all been
// drained. Close wakes a parked consumer and blocked producers.
func (r *MPSC[T]) Close() {
	// The lanes' flag first: a consumer that sees closedBit then also sees
	// closed (see sealLanes).
	r.w.closed.Store(1)
	r.tail.Or(closedBit)
	r.w.close()
}

// Push enqueues v. It returns:
//   - nil when v was enqueued (DropOldest always enqueues, evicting and
//     counting the oldest record if the ring is full);
//   - ErrFull when the ring is full under DropNewest (v is dropped and
//     counted);
//   - ctx.Err() when ctx is done while waiting for space under Block (v is
//     not enqueued and not counted as dropped);
//   - ErrClosed after Close.
//
// Safe for concurrent use by many producers.
func (r *MPSC[T]) Push(ctx context.Context, v T) error {
	if r.vyukov {
		return r.pushVyukov(v)
	}
	for {
		pos := r.tail.Load()
		if pos&closedBit != 0 {
			return ErrClosed
		}
		if r.used(pos) >= int64(r.capacity) {
			if err := r.full(ctx); err != nil {
				if err == ErrFull {
					r.drop(v)
				}
				return err
			}
			continue
		}
		if r.tail.CompareAndSwap(pos, pos+1) {
			s := &r.slots[pos&r.mask]
			s.val = v
			s.run = 1
			// Publish after writing: the consumer loads seq before reading.
			s.seq.Store(pos + 1)
			r.w.wakeConsumer()
			return nil
		}
	}
}

// PushBatch enqueues vs in order. Under Block and DropNewest it claims runs of
// slots with one CAS per run and publishes each run with one store, waking
// the consumer at most once per run; under DropOldest it pushes record by
// record (each may evict). On return vs[:n] have been enqueued and:
//   - err == nil: n == len(vs);
//   - ErrFull (DropNewest): the ring filled up; vs[n:] were dropped and
//     counted;
//   - ctx.Err() (Block) or ErrClosed: vs[n:] were not enqueued and not
//     counted.
//
// Records of one call are contiguous in the ring only within a run; other
// producers' records may be interleaved between runs.
func (r *MPSC[T]) PushBatch(ctx context.Context, vs []T) (int, error) {
	if r.vyukov {
		for i, v := range vs {
			if err := r.pushVyukov(v); err != nil {
				return i, err
			}
		}
		return len(vs), nil
	}
	n := 0
	for n < len(vs) {
		pos := r.tail.Load()
		if pos&closedBit != 0 {
			return n, ErrClosed
		}
		used := r.used(pos)
		if used >= int64(r.capacity) {
			if err := r.full(ctx); err != nil {
				if err == ErrFull {
					for _, v := range vs[n:] {
						r.drop(v)
					}
				}
				return n, err
			}
			continue
		}
		if used < 0 {
			continue // pos was stale
		}
		k := min(uint64(len(vs)-n), r.capacity-uint64(used))
		if !r.tail.CompareAndSwap(pos, pos+k) {
			continue
		}
		for i := range k {
			r.slots[(pos+i)&r.mask].val = vs[n+int(i)]
		}
		first := &r.slots[pos&r.mask]
		first.run = k
		first.seq.Store(pos + 1) // publishes the whole run

		n += int(k)
		r.w.wakeConsumer()
	}
	return n, nil
}

// used returns pos-head, using headCache unless that says full. pos is a
// tail value loaded before head; if it went stale meanwhile, head may be past
// it and the result negative (not full; the caller's CAS on tail will fail
// and it retries).
func (r *MPSC[T]) used(pos uint64) int64 {
	if u := int64(pos - r.headCache.Load()); u < int64(r.capacity) {
		return u
	}
	h := r.head.Load()
	if c := r.headCache.Load(); int64(h-c) > 0 {
		r.headCache.CompareAndSwap(c, h) // lost race: someone stored a newer one
	}
	return int64(pos - h)
}

func (r *MPSC[T]) drop(v T) {
	r.dropped.Add(1)
	if r.onDrop != nil {
		r.onDrop(v)
	}
}

// full applies the policy to a full head-release ring: ErrFull (DropNewest)
// or wait for space (Block); nil means retry.
func (r *MPSC[T]) full(ctx context.Context) error {
	if r.policy == DropNewest {
		return ErrFull
	}
	return r.w.producerWait(ctx, r.pollSpace)
}

// pollSpace is the Block producers' wait condition: any free slot, or with
// strict half the ring free (see waiter.producerWait).
func (r *MPSC[T]) pollSpace(strict bool) waitState {
	pos := r.tail.Load()
	if pos&closedBit != 0 {
		return stateClosed
	}
	limit := r.capacity
	if strict {
		limit /= 2
	}
	if int64(pos-r.head.Load()) < int64(limit) { // not headCache: it may be stale
		return stateReady
	}
	return stateNotReady
}

// pushVyukov is Push under DropOldest: it always enqueues (or returns
// ErrClosed), evicting the oldest record while the ring is full.
func (r *MPSC[T]) pushVyukov(v T) error {
	spins := 0
	for {
		pos := r.tail.Load()
		if pos&closedBit != 0 {
			return ErrClosed
		}
		s := &r.slots[pos&r.mask]
		dif := int64(s.seq.Load() - pos)
		if dif == 0 {
			if r.tail.CompareAndSwap(pos, pos+1) {
				s.val = v
				s.seq.Store(pos + 1) // publish after writing
				r.w.wakeConsumer()
				return nil
			}
			continue // another producer won pos
		}
		if dif > 0 {
			continue // pos was stale
		}
		// The slot still holds position pos-cap.
		h := r.head.Load()
		if int64(pos-h) < int64(r.capacity) {
			// pos-cap has been dequeued (head is past it) but its dequeuer
			// has not released the slot yet, which takes a few
			// instructions. Not full: wait.
			spinWait(&spins)
			continue
		}
		r.evict(h, &spins)
	}
}

// evict dequeues and discards the oldest record, at position h, using the
// same CAS on head that the DropOldest consumer uses, so exactly one of them
// gets it.
func (r *MPSC[T]) evict(h uint64, spins *int) {
	s := &r.slots[h&r.mask]
	if s.seq.Load() != h+1 {
		// Either the oldest record's producer is still writing it (wait for
		// it), or somebody already dequeued it (head moved; retry).
		spinWait(spins)
		return
	}
	if !r.head.CompareAndSwap(h, h+1) {
		return // the consumer or another evicting producer got it
	}
	var old T
	if r.onDrop != nil {
		old = s.val
	}
	s.seq.Store(h + r.capacity) // release after reading
	r.dropped.Add(1)
	if r.onDrop != nil {
		r.onDrop(old)
	}
}

// pollRecords is the consumer's wait condition (both modes: the oldest
// position of the shared lane is published iff it is inside the current run
// or its slot's seq is head+1).
func (r *MPSC[T]) pollRecords() waitState {
	if r.runLeft > 0 {
		return stateReady
	}
	h := r.head.Load()
	if r.slots[h&r.mask].seq.Load() == h+1 {
		return stateReady
	}
	for i := range r.nlanes.Load() {
		if l := r.lanes[i].Load(); !l.sealed && l.tail.Load() != l.head.Load() {
			return stateReady
		}
	}
	// Load tail after head: if tail (closed) equals head, every claimed
	// position has been dequeued.
	if t := r.tail.Load(); t&closedBit != 0 && t&^closedBit == h {
		if r.sealLanes() {
			return stateReady
		}
		return stateClosed
	}
	return stateNotReady
}

// Drain copies up to len(dst) records into dst and removes them from the
// ring: oldest first per lane, with the order between lanes described in
// the MPSC doc. It never blocks; it returns the number copied, which is 0
// when no record is published. Consumer only.
func (r *MPSC[T]) Drain(dst []T) int {
	if len(dst) == 0 {
		return 0
	}
	if !r.ep.lanes {
		if n, ok := r.drainShared(dst, true); ok {
			return n
		}
		r.ep.lanes = true // from now on, see drainLanes
	}
	return r.drainLanes(dst)
}

// drainShared drains the shared lane. With noLanes (Drain before the
// consumer has seen a lane) it loads the lane count after the sequence words
// that tell it what is published, and if a lane exists by then it drains
// nothing and returns false: a lane record published before the shared
// records it saw must be drained first (see drainLanes), and the lane count
// is stored before any lane record is published.
func (r *MPSC[T]) drainShared(dst []T, noLanes bool) (int, bool) {
	if r.vyukov {
		return r.drainVyukov(dst, math.MaxUint64, noLanes)
	}
	h := r.head.Load() // only the consumer writes head in this mode
	left := r.runLeft
	n := 0
	for n < len(dst) {
		p := h + uint64(n)
		s := &r.slots[p&r.mask]
		if left == 0 {
			if s.seq.Load() != p+1 {
				break
			}
			left = s.run // read after the seq load that published it
		}
		// Copy what is left of the run, up to dst and the end of slots.
		base := p & r.mask
		k := min(left, uint64(len(dst)-n), r.capacity-base)
		for i := range k {
			dst[n+int(i)] = r.slots[base+i].val
		}
		n += int(k)
		left -= k
	}
	if noLanes && r.nlanes.Load() > 0 {
		return 0, false // copied, but nothing released: as if not drained
	}
	r.runLeft = left
	if n > 0 {
		// Release the whole run with one store, after copying it.
		r.head.Store(h + uint64(n))
		if r.w.producersWaiting() && r.pollSpace(true) == stateReady {
			r.w.signalSpace()
		}
	}
	return n, true
}

// drainVyukov is drainShared under DropOldest, of positions below end: claim
// the published run with one CAS on head first, then copy and release each
// slot. Copying before winning the CAS would race with an evicting producer.
func (r *MPSC[T]) drainVyukov(dst []T, end uint64, noLanes bool) (int, bool) {
	want := uint64(len(dst))
	for {
		h := r.head.Load()
		if h >= end {
			return 0, true
		}
		limit := min(want, end-h)
		n := uint64(0)
		for n < limit && r.slots[(h+n)&r.mask].seq.Load() == h+n+1 {
			n++
		}
		if noLanes && r.nlanes.Load() > 0 {
			return 0, false
		}
		if n == 0 {
			return 0, true
		}
		if !r.head.CompareAndSwap(h, h+n) {
			// An evicting producer took the oldest record. Retry with a
			// smaller run so that a stream of evictions cannot starve us.
			want = max(want/2, 1)
			continue
		}
		for i := range n {
			s := &r.slots[(h+i)&r.mask]
			dst[i] = s.val
			s.seq.Store(h + i + r.capacity)
		}
		return int(n), true
	}
}

// Wait blocks until records are ready to Drain (nil), the timeout elapses
// (nil; timeout <= 0 means none), the ring is closed and fully drained
// (ErrClosed) or ctx is done (ctx.Err()). It spins for the spin budget,
// yields, then parks with no CPU use until a producer publishes. Once
// records are ready it may linger up to Options.BatchLinger for more (see
// there), without checking ctx meanwhile. Consumer only.
func (r *MPSC[T]) Wait(ctx context.Context, timeout time.Duration) error {
	if r.pollRecords() != stateReady {
		if err := r.w.consumerWait(ctx, timeout, r.pollRecords); err != nil {
			return err
		}
	}
	r.w.lingerWait(r.readyCount)
	return nil
}

// readyCount reports the positions claimed and not yet dequeued on all
// lanes (some may still be being written) and whether the ring is closed,
// for Options.BatchLinger.
func (r *MPSC[T]) readyCount() (uint64, bool) {
	t := r.tail.Load()
	n := t&^closedBit - r.head.Load()
	for i := range r.nlanes.Load() {
		if l := r.lanes[i].Load(); !l.sealed {
			h := l.head.Load() // before tail: tail only grows
			n += l.tail.Load() - h
		}
	}
	return n, t&closedBit != 0
}
