package ring

import (
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/edgeplane/edgeplane/internal/offheap"
	"github.com/edgeplane/edgeplane/record"
)

// Policy is the backpressure policy a ring applies when a producer finds it
// full.
type Policy uint8

const (
	// Block makes the producer wait for space (spin, yield, then park) until
	// the consumer frees a slot, the ring is closed (ErrClosed) or the
	// producer's context is done (ctx.Err()).
	Block Policy = iota
	// DropNewest rejects the record being pushed: Push returns ErrFull and
	// the drop is counted.
	DropNewest
	// DropOldest evicts the oldest committed record to make room for the new
	// one; Push always enqueues (unless the ring is closed) and each eviction
	// is counted.
	DropOldest
)

var policyNames = [...]string{"block", "drop_newest", "drop_oldest"}

// ParsePolicy parses "block", "drop_newest" or "drop_oldest".
func ParsePolicy(s string) (Policy, error) {
	i, err := record.ParseEnum("ring policy", s, policyNames[:])
	return Policy(i), err
}

// String returns the name ParsePolicy accepts.
func (p Policy) String() string { return record.EnumName(p, policyNames[:], "Policy") }

// EnumValues lists the names ParsePolicy accepts.
func (Policy) EnumValues() []string { return policyNames[:] }

// MarshalText returns the policy's name.
func (p Policy) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText parses a policy's name.
func (p *Policy) UnmarshalText(b []byte) error {
	v, err := ParsePolicy(string(b))
	*p = v
	return err
}

// Defaults applied by the constructors for zero Options fields.
const (
	// DefaultCapacity is used when Options.Capacity is 0.
	DefaultCapacity = 8192
	// DefaultSpinBudget is used when Options.SpinBudget is 0.
	DefaultSpinBudget = 128
	// DefaultBatchLinger is used when Options.BatchLinger is 0.
	DefaultBatchLinger = 5 * time.Microsecond
	// DefaultBatchTarget is used when Options.BatchTarget is 0.
	DefaultBatchTarget = 256
	// DefaultLanes is used when Options.Lanes is 0.
	DefaultLanes = 8
	// MaxLanes is the largest number of producer lanes an MPSC accepts.
	MaxLanes = 1024
	// MaxCapacity is the largest capacity a ring accepts.
	MaxCapacity = 1 << 30

	// yieldBudget is the number of runtime.Gosched rounds between the spin
	// phase and parking. Yielding lets a producer sharing our core run, which
	// on a 2-core board is usually what we are waiting for.
	yieldBudget = 8
)

// Options configures a ring.
type Options struct {
	// Capacity is the number of records the ring holds. It is rounded up to a
	// power of two (minimum 2). 0 means DefaultCapacity (8192); negative
	// values and values above MaxCapacity are rejected.
	Capacity int
	// Policy is the backpressure policy (default Block).
	Policy Policy
	// SpinBudget is the number of times a waiting party (consumer in Wait,
	// producer under Block) re-checks the ring before it starts yielding and
	// then parks. 0 means DefaultSpinBudget (128); a negative value disables
	// spinning (yield, then park).
	SpinBudget int
	// BatchLinger bounds how long Wait, once it has found records ready but
	// fewer than BatchTarget, keeps waiting (busy, without parking) for more
	// before it returns, so that the consumer's next Drain takes a batch
	// instead of the one or two records a producer has just published.
	//
	// Why: with single-record Push, a consumer that drains as soon as one
	// record is visible drains a few records per call, and every record then
	// costs cache-line transfers between the cores (the slots, and the index
	// the producer publishes with, bounce between producer and consumer);
	// the producers' atomic publish stalls on those transfers. Draining in
	// batches amortizes them: on a 2-core board it roughly halves the cost
	// of a Push.
	//
	// Cost: at most BatchLinger of extra latency per Wait, and only while
	// producers are trickling in. There is none when the consumer is behind
	// (BatchTarget records already queued), when the ring is closed, or when
	// it is idle (an idle consumer parks as before; after it is woken it
	// lingers at most once). While lingering the consumer reads the
	// producers' index only a few times (it paces its polls by the
	// producers' observed rate, reading just the clock in between), so the
	// lingering itself does not slow the producers down.
	//
	// 0 means DefaultBatchLinger (5µs); a negative value disables lingering
	// (Wait returns as soon as one record is ready). Lingering is also
	// disabled when GOMAXPROCS is 1 at construction, where a busy consumer
	// would only delay the producers it waits for.
	BatchLinger time.Duration
	// BatchTarget is the number of ready records at which Wait stops
	// lingering (see BatchLinger); match it to the consumer's Drain buffer.
	// 0 means DefaultBatchTarget (256). It is capped at a quarter of the
	// capacity (minimum 1), so a lingering consumer never lets a small ring
	// fill up. Negative values are rejected.
	BatchTarget int
	// Lanes (MPSC only) is the number of exclusive producer lanes that
	// MPSC.NewProducer hands out; once they are all taken, further handles
	// push through the shared lane. Each lane holds Capacity records and is
	// allocated by the NewProducer call that first needs it (and kept for
	// reuse), so the ring holds at most (Lanes+1)×Capacity records and its
	// memory is at most Capacity×(sizeof(T)+16) bytes for the shared lane,
	// allocated by NewMPSC, plus Capacity×sizeof(T) per lane allocated.
	// 0 means DefaultLanes (8); a negative value disables lanes (every
	// handle uses the shared lane); values above MaxLanes are rejected.
	Lanes int
}

var (
	// ErrClosed is returned to producers after Close, and by Wait once the
	// ring is closed and fully drained.
	ErrClosed = errors.New("ring: closed")
	// ErrFull is returned by DropNewest rings when the record was dropped.
	ErrFull = errors.New("ring: full")
	// ErrPointers is returned (wrapped) by the constructors when the record
	// type contains pointers (pointers, strings, slices, maps, channels,
	// functions, interfaces or unsafe.Pointer, at any depth).
	ErrPointers = errors.New("ring: record type contains pointers")
)

// config is the validated form of Options.
type config struct {
	capacity uint64
	policy   Policy
	spin     int
	linger   time.Duration // 0: disabled
	batch    uint64        // >= 1
	lanes    int           // >= 0
}

func (o Options) config() (config, error) {
	c := config{policy: o.Policy, spin: o.SpinBudget}
	switch {
	case o.Capacity == 0:
		c.capacity = DefaultCapacity
	case o.Capacity < 0 || o.Capacity > MaxCapacity:
		return c, optErr("capacity", fmt.Sprintf("%d out of range 0..%d", o.Capacity, MaxCapacity))
	default:
		c.capacity = 2 // the sequence scheme of MPSC needs at least two slots
		for c.capacity < uint64(o.Capacity) {
			c.capacity <<= 1
		}
	}
	if o.Policy > DropOldest {
		return c, optErr("policy", fmt.Sprintf("invalid policy %d", o.Policy))
	}
	switch {
	case o.SpinBudget == 0:
		c.spin = DefaultSpinBudget
	case o.SpinBudget < 0:
		c.spin = 0
	}
	switch {
	case o.BatchLinger == 0:
		c.linger = DefaultBatchLinger
	case o.BatchLinger > 0:
		c.linger = o.BatchLinger
	}
	switch {
	case o.BatchTarget < 0:
		return c, optErr("batch_target", fmt.Sprintf("negative batch target %d", o.BatchTarget))
	case o.BatchTarget == 0:
		c.batch = DefaultBatchTarget
	default:
		c.batch = uint64(o.BatchTarget)
	}
	c.batch = max(min(c.batch, c.capacity/4), 1)
	switch {
	case o.Lanes == 0:
		c.lanes = DefaultLanes
	case o.Lanes > MaxLanes:
		return c, optErr("lanes", fmt.Sprintf("%d lanes out of range 0..%d", o.Lanes, MaxLanes))
	case o.Lanes > 0:
		c.lanes = o.Lanes
	}
	return c, nil
}

// Validate reports the problem of o, as record.OptionErrors, or nil: the
// same check the constructors make.
func (o Options) Validate() error {
	_, err := o.config()
	return err
}

// optErr is a one-problem record.OptionErrors.
func optErr(option, msg string) error {
	return record.OptionErrors{{Option: option, Msg: msg}}
}

// checkPointerFree reports an error wrapping ErrPointers if T holds pointers.
//
// Records must be pointer-free so that the ring's backing array is never
// scanned by the garbage collector, slot copies need no write barriers, and a
// consumed or dropped record left in a slot keeps nothing alive.
func checkPointerFree[T any]() error {
	t := reflect.TypeFor[T]()
	if offheap.HasPointers(t) {
		return fmt.Errorf("%w: %v", ErrPointers, t)
	}
	return nil
}
