package ring

import (
	"context"
	"runtime"
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

type kind struct {
	name string
	new  func(t testing.TB, o Options) testRing[rec]
	w    func(r testRing[rec]) *waiter
}

var kinds = []kind{
	{"MPSC", func(t testing.TB, o Options) testRing[rec] {
		r, err := NewMPSC[rec](o)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}, func(r testRing[rec]) *waiter { return &r.(*MPSC[rec]).w }},
	{"SPSC", func(t testing.TB, o Options) testRing[rec] {
		r, err := NewSPSC[rec](o)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}, func(r testRing[rec]) *waiter { return &r.(*SPSC[rec]).w }},
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
