package ring

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// rec is the stress/bench record: 32 bytes, pointer-free, like record.Sample.
type rec struct {
	P   uint32 // producer id
	_   uint32
	Seq uint64 // per-producer sequence number
	A   uint64
	B   uint64
}

// testRing is the surface both ring kinds share.
type testRing[T any] interface {
	Push(ctx context.Context, v T) error
	PushBatch(ctx context.Context, vs []T) (int, error)
	Drain(dst []T) int
	Wait(ctx context.Context, timeout time.Duration) error
	Close()
	Dropped() uint64
	Len() int
	Cap() int
	SetDropHook(func(T))
}

var (
	_ testRing[rec] = (*MPSC[rec])(nil)
	_ testRing[rec] = (*SPSC[rec])(nil)
)

// laneRing is an MPSC whose Push and PushBatch go through one Producer
// handle (an exclusive lane), so that the tests written for the ring kinds
// cover lanes too. Like SPSC, it has a single producer goroutine at a time.
type laneRing struct {
	*MPSC[rec]
	p *Producer[rec]
}

func (r laneRing) Push(ctx context.Context, v rec) error { return r.p.Push(ctx, v) }
func (r laneRing) PushBatch(ctx context.Context, vs []rec) (int, error) {
	return r.p.PushBatch(ctx, vs)
}

type kind struct {
	name   string
	new    func(t testing.TB, o Options) testRing[rec]
	w      func(r testRing[rec]) *waiter
	space  func(r testRing[rec]) *atomic.Int32 // counts producers parked on space
	single bool                                // one producer goroutine at a time
}

var kinds = []kind{
	{"MPSC", func(t testing.TB, o Options) testRing[rec] {
		r, err := NewMPSC[rec](o)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}, func(r testRing[rec]) *waiter { return &r.(*MPSC[rec]).w },
		func(r testRing[rec]) *atomic.Int32 { return &r.(*MPSC[rec]).w.spaceWaiters }, false},
	{"SPSC", func(t testing.TB, o Options) testRing[rec] {
		r, err := NewSPSC[rec](o)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}, func(r testRing[rec]) *waiter { return &r.(*SPSC[rec]).w },
		func(r testRing[rec]) *atomic.Int32 { return &r.(*SPSC[rec]).w.spaceWaiters }, true},
	{"MPSC-lane", func(t testing.TB, o Options) testRing[rec] {
		r, err := NewMPSC[rec](o)
		if err != nil {
			t.Fatal(err)
		}
		p := r.NewProducer()
		if !p.Exclusive() {
			t.Fatal("NewProducer on a new ring: no lane")
		}
		return laneRing{r, p}
	}, func(r testRing[rec]) *waiter { return &r.(laneRing).w },
		func(r testRing[rec]) *atomic.Int32 { return &r.(laneRing).p.l.spaceWaiters }, true},
}

var policies = []Policy{Block, DropNewest, DropOldest}

// poll waits (yielding, never sleeping) until cond holds or 10s pass.
func poll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}
