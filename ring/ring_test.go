package ring

import (
	"context"
	"errors"
	"testing"
	"time"
)

func r64(i int) rec { return rec{Seq: uint64(i)} }

func TestFIFOWrap(t *testing.T) {
	for _, k := range kinds {
		for _, p := range policies {
			t.Run(k.name+"/"+p.String(), func(t *testing.T) {
				r := k.new(t, Options{Capacity: 8, Policy: p})
				ctx := context.Background()
				next, want := 0, 0
				dst := make([]rec, 5)
				for round := 0; round < 20; round++ {
					for i := 0; i < 3+round%5 && r.Len() < r.Cap(); i++ {
						if err := r.Push(ctx, r64(next)); err != nil {
							t.Fatal(err)
						}
						next++
					}
					if round%3 == 0 {
						n, err := r.PushBatch(ctx, []rec{r64(next), r64(next + 1)}[:min(2, r.Cap()-r.Len())])
						if err != nil {
							t.Fatal(err)
						}
						next += n
					}
					if got := r.Len(); got != next-want {
						t.Fatalf("Len = %d, want %d", got, next-want)
					}
					n := r.Drain(dst[:1+round%5])
					for _, v := range dst[:n] {
						if v.Seq != uint64(want) {
							t.Fatalf("got %d, want %d", v.Seq, want)
						}
						want++
					}
				}
				for n := r.Drain(dst); n > 0; n = r.Drain(dst) {
					for _, v := range dst[:n] {
						if v.Seq != uint64(want) {
							t.Fatalf("got %d, want %d", v.Seq, want)
						}
						want++
					}
				}
				if want != next || r.Dropped() != 0 {
					t.Fatalf("drained %d of %d, dropped %d", want, next, r.Dropped())
				}
			})
		}
	}
}

func TestDropNewest(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			r := k.new(t, Options{Capacity: 4, Policy: DropNewest})
			var hooked []uint64
			r.SetDropHook(func(v rec) { hooked = append(hooked, v.Seq) })
			ctx := context.Background()
			for i := range 4 {
				if err := r.Push(ctx, r64(i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := r.Push(ctx, r64(4)); err != ErrFull {
				t.Fatalf("Push on full = %v, want ErrFull", err)
			}
			if n, err := r.PushBatch(ctx, []rec{r64(5), r64(6)}); n != 0 || err != ErrFull {
				t.Fatalf("PushBatch on full = %d, %v", n, err)
			}
			if r.Dropped() != 3 || len(hooked) != 3 || hooked[0] != 4 || hooked[2] != 6 {
				t.Fatalf("dropped %d, hook saw %v", r.Dropped(), hooked)
			}
			dst := make([]rec, 2)
			if r.Drain(dst) != 2 || dst[0].Seq != 0 {
				t.Fatal("drain")
			}
			// Partial batch: two fit, the rest is dropped.
			n, err := r.PushBatch(ctx, []rec{r64(7), r64(8), r64(9)})
			if n != 2 || err != ErrFull || r.Dropped() != 4 {
				t.Fatalf("partial PushBatch = %d, %v, dropped %d", n, err, r.Dropped())
			}
		})
	}
}

func TestDropOldest(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			r := k.new(t, Options{Capacity: 4, Policy: DropOldest})
			var hooked []uint64
			r.SetDropHook(func(v rec) { hooked = append(hooked, v.Seq) })
			ctx := context.Background()
			for i := range 6 {
				if err := r.Push(ctx, r64(i)); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := r.PushBatch(ctx, []rec{r64(6), r64(7), r64(8)}); n != 3 || err != nil {
				t.Fatalf("PushBatch = %d, %v", n, err)
			}
			if r.Dropped() != 5 || len(hooked) != 5 {
				t.Fatalf("dropped %d, hook %v", r.Dropped(), hooked)
			}
			for i, s := range hooked {
				if s != uint64(i) {
					t.Fatalf("evicted %v, want 0..4", hooked)
				}
			}
			dst := make([]rec, 8)
			n := r.Drain(dst)
			if n != 4 {
				t.Fatalf("drained %d", n)
			}
			for i, v := range dst[:n] {
				if v.Seq != uint64(5+i) {
					t.Fatalf("got %v, want 5..8", dst[:n])
				}
			}
		})
	}
}

func TestBlockContext(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			r := k.new(t, Options{Capacity: 2})
			for i := range 2 {
				if err := r.Push(context.Background(), r64(i)); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() { errc <- r.Push(ctx, r64(2)) }()
			space := k.space(r)
			poll(t, "producer to park", func() bool { return space.Load() == 1 })
			cancel()
			if err := <-errc; !errors.Is(err, context.Canceled) {
				t.Fatalf("blocked Push = %v, want Canceled", err)
			}
			if r.Len() != 2 || r.Dropped() != 0 {
				t.Fatalf("len %d dropped %d", r.Len(), r.Dropped())
			}
			// A Drain that frees half the ring wakes a parked producer.
			go func() { errc <- r.Push(context.Background(), r64(2)) }()
			poll(t, "producer to park", func() bool { return space.Load() == 1 })
			dst := make([]rec, 2)
			r.Drain(dst)
			if err := <-errc; err != nil {
				t.Fatalf("Push after Drain = %v", err)
			}
			// Close wakes a parked producer with ErrClosed.
			if err := r.Push(context.Background(), r64(3)); err != nil { // full again
				t.Fatal(err)
			}
			go func() { errc <- r.Push(context.Background(), r64(3)) }()
			poll(t, "producer to park", func() bool { return space.Load() == 1 })
			r.Close()
			if err := <-errc; err != ErrClosed {
				t.Fatalf("Push after Close = %v", err)
			}
		})
	}
}

func TestCloseDrain(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			r := k.new(t, Options{Capacity: 8})
			ctx := context.Background()
			for i := range 5 {
				if err := r.Push(ctx, r64(i)); err != nil {
					t.Fatal(err)
				}
			}
			r.Close()
			r.Close() // idempotent
			if err := r.Push(ctx, r64(9)); err != ErrClosed {
				t.Fatalf("Push after Close = %v", err)
			}
			if n, err := r.PushBatch(ctx, []rec{r64(9)}); n != 0 || err != ErrClosed {
				t.Fatalf("PushBatch after Close = %d, %v", n, err)
			}
			dst := make([]rec, 3)
			got := 0
			for {
				err := r.Wait(ctx, 0)
				if err == ErrClosed {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				n := r.Drain(dst)
				for _, v := range dst[:n] {
					if v.Seq != uint64(got) {
						t.Fatalf("got %d want %d", v.Seq, got)
					}
					got++
				}
			}
			if got != 5 {
				t.Fatalf("drained %d of 5 before ErrClosed", got)
			}
			if err := r.Wait(ctx, 0); err != ErrClosed {
				t.Fatalf("Wait after drain = %v", err)
			}
		})
	}
}

func TestWait(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			r := k.new(t, Options{Capacity: 8})
			w := k.w(r)
			// Timeout on an empty ring: nil, nothing to drain.
			if err := r.Wait(context.Background(), 5*time.Millisecond); err != nil {
				t.Fatalf("Wait timeout = %v", err)
			}
			if r.Drain(make([]rec, 1)) != 0 {
				t.Fatal("drained from empty ring")
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := r.Wait(ctx, 0); !errors.Is(err, context.Canceled) {
				t.Fatalf("Wait cancelled = %v", err)
			}
			// A parked consumer is woken by a push.
			errc := make(chan error, 1)
			go func() { errc <- r.Wait(context.Background(), 0) }()
			poll(t, "consumer to park", func() bool { return w.parked.Load() == 1 })
			if err := r.Push(context.Background(), r64(1)); err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("Wait after push = %v", err)
			}
			if err := r.Wait(context.Background(), 0); err != nil { // ready: immediate
				t.Fatal(err)
			}
			r.Drain(make([]rec, 1))
			// ... and by Close.
			go func() { errc <- r.Wait(context.Background(), 0) }()
			poll(t, "consumer to park", func() bool { return w.parked.Load() == 1 })
			r.Close()
			if err := <-errc; err != ErrClosed {
				t.Fatalf("Wait after Close = %v", err)
			}
		})
	}
}

func TestSPSCReserveCommit(t *testing.T) {
	r, err := NewSPSC[uint64](Options{Capacity: 8, Policy: DropNewest})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := r.Reserve(ctx, 5)
	if err != nil || len(s) != 5 {
		t.Fatalf("Reserve = %d, %v", len(s), err)
	}
	for i := range s {
		s[i] = uint64(i)
	}
	if err := r.Commit(5); err != nil {
		t.Fatal(err)
	}
	dst := make([]uint64, 8)
	if n := r.Drain(dst[:4]); n != 4 {
		t.Fatalf("drained %d", n)
	}
	// Run reaches the end of the array: shorter slice, then the rest.
	s, _ = r.Reserve(ctx, 6)
	if len(s) != 3 {
		t.Fatalf("Reserve at wrap = %d, want 3", len(s))
	}
	for i := range s {
		s[i] = uint64(5 + i)
	}
	if err := r.Commit(2); err != nil { // commit part of it
		t.Fatal(err)
	}
	s, _ = r.Reserve(ctx, 10)
	if len(s) != 1 { // 5 free, but only 1 slot before the end of the array
		t.Fatalf("Reserve = %d, want 1", len(s))
	}
	s[0] = 7
	if err := r.Commit(1); err != nil {
		t.Fatal(err)
	}
	s, _ = r.Reserve(ctx, 10) // wrapped: 4 free
	if len(s) != 4 {
		t.Fatalf("Reserve after wrap = %d, want 4", len(s))
	}
	for i := range s {
		s[i] = uint64(8 + i)
	}
	if err := r.Commit(4); err != nil {
		t.Fatal(err)
	}
	// Full: DropNewest reserve fails and counts what the caller drops.
	if _, err := r.Reserve(ctx, 3); err != ErrFull || r.Dropped() != 3 {
		t.Fatalf("Reserve on full = %v, dropped %d", err, r.Dropped())
	}
	n := r.Drain(dst)
	for i, v := range dst[:n] {
		if v != uint64(4+i) {
			t.Fatalf("drained %v, want 4..11", dst[:n])
		}
	}
	if n != 8 {
		t.Fatalf("drained %d, want 8", n)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Commit beyond reservation did not panic")
			}
		}()
		r.Reserve(ctx, 2)
		r.Commit(3)
	}()
	// Commit after Close publishes nothing.
	s, _ = r.Reserve(ctx, 2)
	r.Close()
	if err := r.Commit(len(s)); err != ErrClosed {
		t.Fatalf("Commit after Close = %v", err)
	}
	if err := r.Wait(ctx, 0); err != ErrClosed || r.Len() != 0 {
		t.Fatalf("Wait = %v, Len %d", err, r.Len())
	}
}

func TestSPSCReserveDropOldest(t *testing.T) {
	r, _ := NewSPSC[uint64](Options{Capacity: 8, Policy: DropOldest})
	ctx := context.Background()
	var next uint64
	for range 5 {
		s, err := r.Reserve(ctx, 3)
		if err != nil {
			t.Fatal(err)
		}
		for i := range s {
			s[i] = next
			next++
		}
		if err := r.Commit(len(s)); err != nil {
			t.Fatal(err)
		}
	}
	dst := make([]uint64, 16)
	n := r.Drain(dst)
	if n != 8 || uint64(n)+r.Dropped() != next {
		t.Fatalf("drained %d + dropped %d != %d", n, r.Dropped(), next)
	}
	for i, v := range dst[:n] {
		if v != next-8+uint64(i) {
			t.Fatalf("drained %v", dst[:n])
		}
	}
}

// TestMPSCRuns covers head-release runs: a PushBatch run is published by one
// store on its first slot, and Drain may stop in the middle of a run (short
// dst, end of the slot array) and resume there.
func TestMPSCRuns(t *testing.T) {
	for _, p := range []Policy{Block, DropNewest} {
		r, _ := NewMPSC[uint64](Options{Capacity: 16, Policy: p})
		ctx := context.Background()
		var next, want uint64
		batch := make([]uint64, 16)
		dst := make([]uint64, 16)
		for round := range 200 {
			k := 1 + round%11
			b := batch[:min(k, r.Cap()-r.Len())]
			for i := range b {
				b[i] = next
				next++
			}
			if n, err := r.PushBatch(ctx, b); n != len(b) || err != nil {
				t.Fatalf("PushBatch = %d, %v", n, err)
			}
			if round%4 == 1 && r.Len() < r.Cap() {
				if err := r.Push(ctx, next); err != nil {
					t.Fatal(err)
				}
				next++
			}
			n := r.Drain(dst[:1+round%7])
			for _, v := range dst[:n] {
				if v != want {
					t.Fatalf("%v: got %d want %d", p, v, want)
				}
				want++
			}
			if r.Len() > 0 {
				if err := r.Wait(ctx, 0); err != nil { // must not block
					t.Fatal(err)
				}
			}
		}
		for n := r.Drain(dst); n > 0; n = r.Drain(dst) {
			for _, v := range dst[:n] {
				if v != want {
					t.Fatalf("%v: got %d want %d", p, v, want)
				}
				want++
			}
		}
		if want != next || r.Dropped() != 0 {
			t.Fatalf("%v: drained %d of %d, dropped %d", p, want, next, r.Dropped())
		}
	}
}
