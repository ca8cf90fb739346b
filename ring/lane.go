package ring

import (
	"sync/atomic"

	"golang.org/x/sys/cpu"
)

// fin values of a lane (see lane.fin). Positions stay far below both bits.
const (
	finOwner  = 1 << 62 // the owner's records count; it pushes no more
	finSealed = 1 << 63 // | head: the consumer sealed the lane at head
)

// lane is an exclusive producer lane of an MPSC: a single-producer,
// single-consumer sub-ring, owned by at most one Producer at a time.
//
// Block and DropNewest: the owner writes slot tail&mask with a plain store
// and publishes it with one atomic store to tail; the consumer copies
// [head, tail) and releases the run with one store to head. The owner reads
// head only when its cached copy (Producer.headCache) says the lane is full;
// there is no CAS on the push path. DropOldest works as in SPSC: the owner evicts by
// advancing head with the CAS the consumer uses to claim a run, and released
// tells the owner when the consumer has finished copying its run.
//
// Close and a push in flight race without a CAS on the push path: the owner
// loads the ring's closed flag before writing and again after publishing.
// The consumer concludes that a lane is closed and drained only after it has
// seen Close (MPSC.sealLanes), so if the second load says "open", the
// consumer is bound to see the record (store-then-load on both sides, as for
// parking). If it says "closed", the owner and the consumer settle the lane
// with one CAS each on fin (rare: once per lane per Close): if the owner
// wins, its records count and the consumer drains them; if the consumer won,
// it recorded the head at which it found the lane empty, and the owner takes
// back whatever of its run lies beyond (moves tail back; the consumer ignores
// a sealed lane) and returns ErrClosed.
type lane[T any] struct {
	_ cpu.CacheLinePad
	// The owner's line, written on every push.
	// tail is the next position to publish. Only the owner stores it (the
	// owner's Producer keeps a plain copy, and its copy of the release
	// index, headCache).
	tail atomic.Uint64
	// dropped counts the records this lane rejected or evicted.
	dropped atomic.Uint64
	_       cpu.CacheLinePad
	// The consumer's line.
	// head is the next position to consume. Only the consumer stores it,
	// except under DropOldest, where the evicting owner CASes it too.
	head atomic.Uint64
	// released (DropOldest): every position below it has been copied out or
	// evicted, and its slot may be overwritten.
	released atomic.Uint64
	target   uint64 // consumer: end of this lane's share of the drain epoch
	sealed   bool   // consumer: settled at Close, to be ignored (see fin)
	_        cpu.CacheLinePad

	// Read-only after allocation.
	buf      []T
	mask     uint64
	capacity uint64
	policy   Policy

	// Written rarely: at Close, when the owner parks, on NewProducer/Release.
	// fin settles the lane at Close: 0, finOwner or finSealed|head.
	fin atomic.Uint64
	// spaceWaiters and space are the owner's parking spot under Block.
	spaceWaiters atomic.Int32
	space        chan struct{}
	owned        bool // guarded by MPSC.mu
	_            cpu.CacheLinePad
}

func newLane[T any](r *MPSC[T]) *lane[T] {
	return &lane[T]{
		buf:      make([]T, r.capacity),
		mask:     r.mask,
		capacity: r.capacity,
		policy:   r.policy,
		space:    make(chan struct{}, 1),
	}
}

// releasedIdx is the position below which slots may be overwritten.
func (l *lane[T]) releasedIdx() uint64 {
	if l.policy == DropOldest {
		return l.released.Load()
	}
	return l.head.Load()
}

// drained reports whether the consumer has released every record published.
func (l *lane[T]) drained() bool { return l.tail.Load() == l.releasedIdx() }
