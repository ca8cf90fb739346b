package ring

import (
	"context"
	"testing"
)

func newLaneMPSC(t *testing.T, o Options) *MPSC[rec] {
	t.Helper()
	r, err := NewMPSC[rec](o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// drainAll drains r with dst of the given size until it is empty.
func drainAll(r *MPSC[rec], size int) []rec {
	var out []rec
	dst := make([]rec, size)
	for n := r.Drain(dst); n > 0; n = r.Drain(dst) {
		out = append(out, dst[:n]...)
	}
	return out
}

func TestLaneOptions(t *testing.T) {
	f := func(o Options, want int) {
		t.Helper()
		r := newLaneMPSC(t, o)
		var ps []*Producer[rec]
		for range want + 2 {
			ps = append(ps, r.NewProducer())
		}
		got := 0
		for _, p := range ps {
			if p.Exclusive() {
				got++
			}
		}
		if got != want || int(r.nlanes.Load()) != want {
			t.Errorf("%+v: %d exclusive handles, %d lanes allocated; want %d", o, got, r.nlanes.Load(), want)
		}
		// Every handle works, exclusive or not.
		for i, p := range ps {
			if err := p.Push(context.Background(), rec{P: uint32(i), Seq: 1}); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(drainAll(r, 4)); n != len(ps) {
			t.Errorf("%+v: drained %d of %d", o, n, len(ps))
		}
	}
	f(Options{Capacity: 8}, DefaultLanes)
	f(Options{Capacity: 8, Lanes: 3}, 3)
	f(Options{Capacity: 8, Lanes: -1}, 0)
	if _, err := NewMPSC[rec](Options{Lanes: MaxLanes + 1}); err == nil {
		t.Error("Lanes above MaxLanes accepted")
	}
	// Lanes are allocated by the NewProducer that needs them.
	r := newLaneMPSC(t, Options{Capacity: 8})
	if r.nlanes.Load() != 0 {
		t.Fatal("lanes allocated before NewProducer")
	}
}

// TestLaneRelease: a released lane keeps its records drainable, is reused
// only once drained, and the new owner continues after the old records.
func TestLaneRelease(t *testing.T) {
	for _, pol := range policies {
		t.Run(pol.String(), func(t *testing.T) {
			ctx := context.Background()
			r := newLaneMPSC(t, Options{Capacity: 4, Lanes: 1, Policy: pol})
			a := r.NewProducer()
			for i := range 3 {
				if err := a.Push(ctx, r64(i)); err != nil {
					t.Fatal(err)
				}
			}
			a.Release()
			a.Release() // idempotent
			if err := a.Push(ctx, r64(9)); err != ErrClosed {
				t.Fatalf("Push after Release = %v, want ErrClosed", err)
			}
			if n, err := a.PushBatch(ctx, []rec{r64(9)}); n != 0 || err != ErrClosed {
				t.Fatalf("PushBatch after Release = %d, %v", n, err)
			}
			// Not drained yet: the only lane is not handed out.
			if b := r.NewProducer(); b.Exclusive() {
				t.Fatal("undrained lane reused")
			} else {
				b.Release()
			}
			dst := make([]rec, 2)
			if n := r.Drain(dst); n != 2 || dst[0].Seq != 0 || dst[1].Seq != 1 {
				t.Fatalf("drained %v", dst[:n])
			}
			if b := r.NewProducer(); b.Exclusive() {
				t.Fatal("partly drained lane reused")
			}
			if n := r.Drain(dst); n != 1 || dst[0].Seq != 2 {
				t.Fatalf("drained %v", dst[:n])
			}
			b := r.NewProducer()
			if !b.Exclusive() || b.l != r.lanes[0].Load() {
				t.Fatal("drained lane not reused")
			}
			// The new owner wraps around the slots the old one used.
			for i := range 4 {
				if err := b.Push(ctx, r64(10+i)); err != nil {
					t.Fatal(err)
				}
			}
			got := drainAll(r, 3)
			if len(got) != 4 || got[0].Seq != 10 || got[3].Seq != 13 || r.Dropped() != 0 {
				t.Fatalf("drained %v, dropped %d", got, r.Dropped())
			}
		})
	}
}

// TestLaneOrder checks the MPSC ordering guarantee: a lane record whose push
// completed before a shared-lane push started is drained first, whatever
// the size of dst; each lane stays FIFO.
func TestLaneOrder(t *testing.T) {
	ctx := context.Background()
	for size := 1; size <= 9; size++ {
		r := newLaneMPSC(t, Options{Capacity: 16})
		// Drain before there is any lane (the consumer's no-lane path).
		if err := r.Push(ctx, rec{P: 2, Seq: 0}); err != nil {
			t.Fatal(err)
		}
		if got := drainAll(r, size); len(got) != 1 || r.ep.lanes {
			t.Fatalf("drained %v before lanes (lanes mode %v)", got, r.ep.lanes)
		}
		a, b := r.NewProducer(), r.NewProducer()
		push := func(p *Producer[rec], id uint32, seq int) {
			t.Helper()
			var err error
			if p == nil {
				err = r.Push(ctx, rec{P: id, Seq: uint64(seq)})
			} else {
				err = p.Push(ctx, rec{P: id, Seq: uint64(seq)})
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		// 0: lane a, 1: lane b, 2: shared markers (Seq: how many lane
		// records were pushed before them).
		pushed := 0
		for i := range 5 {
			push(a, 0, i)
			pushed++
			if i%2 == 0 {
				push(b, 1, i)
				pushed++
			}
			push(nil, 2, pushed)
		}
		_, _ = a.PushBatch(ctx, []rec{{P: 0, Seq: 5}, {P: 0, Seq: 6}})
		push(nil, 2, pushed+2)

		seen := 0
		last := map[uint32]int{0: -1, 1: -1, 2: -1}
		for _, v := range drainAll(r, size) {
			if int(v.Seq) <= last[v.P] {
				t.Fatalf("size %d: %d/%d after %d (not FIFO)", size, v.P, v.Seq, last[v.P])
			}
			last[v.P] = int(v.Seq)
			if v.P == 2 {
				if seen < int(v.Seq) {
					t.Fatalf("size %d: marker %d drained after only %d lane records", size, v.Seq, seen)
				}
				continue
			}
			seen++
		}
		if seen != pushed+2 || last[2] != pushed+2 {
			t.Fatalf("size %d: drained %d lane records, last marker %d", size, seen, last[2])
		}
	}
}

// TestLaneFair: with a small dst, Drain serves the lanes in turn.
func TestLaneFair(t *testing.T) {
	ctx := context.Background()
	r := newLaneMPSC(t, Options{Capacity: 64})
	const lanes = 4
	for i := range lanes {
		p := r.NewProducer()
		for j := range 50 {
			if err := p.Push(ctx, rec{P: uint32(i), Seq: uint64(j)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	dst := make([]rec, 5)
	got := map[uint32]bool{}
	for range lanes {
		if n := r.Drain(dst); n != len(dst) {
			t.Fatalf("drained %d", n)
		}
		got[dst[0].P] = true
	}
	if len(got) != lanes {
		t.Fatalf("first %d drains served lanes %v, want all %d", lanes, got, lanes)
	}
}

// TestLaneCloseRace drives both outcomes of a push racing with Close (see
// lane): the owner settles first (its record counts and is drained), or the
// consumer sealed the lane first (the record is taken back).
func TestLaneCloseRace(t *testing.T) {
	ctx := context.Background()
	// publish does what Push does up to its second look at closed.
	publish := func(p *Producer[rec], v rec) uint64 {
		l := p.l
		t := l.tail.Load()
		l.buf[t&l.mask] = v
		l.tail.Store(t + 1)
		return t
	}

	t.Run("owner first", func(t *testing.T) {
		r := newLaneMPSC(t, Options{Capacity: 8})
		p := r.NewProducer()
		if err := p.Push(ctx, r64(1)); err != nil {
			t.Fatal(err)
		}
		r.w.closed.Store(1) // Close has begun: the push below saw it open
		t0 := publish(p, r64(2))
		if err := p.closeRace(t0, t0+1); err != nil {
			t.Fatalf("closeRace = %v, want nil", err)
		}
		r.Close()
		if err := p.Push(ctx, r64(3)); err != ErrClosed {
			t.Fatalf("Push after Close = %v", err)
		}
		var got []rec
		dst := make([]rec, 1)
		for r.Wait(ctx, 0) == nil {
			got = append(got, dst[:r.Drain(dst)]...)
		}
		if len(got) != 2 || got[1].Seq != 2 || r.Len() != 0 {
			t.Fatalf("drained %v, Len %d", got, r.Len())
		}
	})

	t.Run("consumer first", func(t *testing.T) {
		r := newLaneMPSC(t, Options{Capacity: 8})
		p := r.NewProducer()
		if err := p.Push(ctx, r64(1)); err != nil {
			t.Fatal(err)
		}
		r.Close()
		if err := r.Wait(ctx, 0); err != nil {
			t.Fatal(err)
		}
		if n := r.Drain(make([]rec, 4)); n != 1 {
			t.Fatalf("drained %d", n)
		}
		if err := r.Wait(ctx, 0); err != ErrClosed { // seals the lane
			t.Fatalf("Wait = %v, want ErrClosed", err)
		}
		t0 := publish(p, r64(2)) // a push that saw the ring open before Close
		if n := r.Drain(make([]rec, 4)); n != 0 {
			t.Fatalf("drained %d from a sealed lane", n)
		}
		if err := p.closeRace(t0, t0+1); err != ErrClosed {
			t.Fatalf("closeRace = %v, want ErrClosed", err)
		}
		if r.Len() != 0 || r.Wait(ctx, 0) != ErrClosed {
			t.Fatalf("Len %d after the push was taken back", r.Len())
		}
	})

	t.Run("consumer drained the run", func(t *testing.T) {
		r := newLaneMPSC(t, Options{Capacity: 8})
		p := r.NewProducer()
		r.w.closed.Store(1)
		t0 := publish(p, r64(1))
		r.tail.Or(closedBit)
		if err := r.Wait(ctx, 0); err != nil {
			t.Fatal(err)
		}
		if n := r.Drain(make([]rec, 4)); n != 1 {
			t.Fatalf("drained %d", n)
		}
		if err := r.Wait(ctx, 0); err != ErrClosed {
			t.Fatalf("Wait = %v", err)
		}
		if err := p.closeRace(t0, t0+1); err != nil {
			t.Fatalf("closeRace = %v, want nil (the record was drained)", err)
		}
	})
}

// TestLaneCloseMixed: Close closes every lane; Wait returns ErrClosed only
// once the shared lane and every lane are drained.
func TestLaneCloseMixed(t *testing.T) {
	ctx := context.Background()
	for _, pol := range policies {
		r := newLaneMPSC(t, Options{Capacity: 8, Policy: pol})
		a, b := r.NewProducer(), r.NewProducer()
		_ = a.Push(ctx, r64(1))
		_, _ = b.PushBatch(ctx, []rec{r64(2), r64(3)})
		_ = r.Push(ctx, r64(4))
		r.Close()
		for _, err := range []error{a.Push(ctx, r64(9)), r.Push(ctx, r64(9))} {
			if err != ErrClosed {
				t.Fatalf("%v: Push after Close = %v", pol, err)
			}
		}
		if p := r.NewProducer(); p.Exclusive() || p.Push(ctx, r64(9)) != ErrClosed {
			t.Fatalf("%v: NewProducer after Close", pol)
		}
		got := 0
		dst := make([]rec, 1)
		for r.Wait(ctx, 0) == nil {
			got += r.Drain(dst)
		}
		if got != 4 || r.Len() != 0 {
			t.Fatalf("%v: drained %d of 4, Len %d", pol, got, r.Len())
		}
	}
}
