package ring

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// TestBatchLinger checks the bounds of Wait's lingering (Options.BatchLinger,
// BatchTarget): it returns at once when the target is already reached or
// nothing is ready, waits at least BatchLinger for a short batch, and stops
// lingering at Close.
func TestBatchLinger(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("lingering is disabled with GOMAXPROCS 1")
	}
	ctx := context.Background()
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			// Target reached: no lingering, even with a huge BatchLinger.
			r := k.new(t, Options{Capacity: 64, BatchLinger: time.Hour, BatchTarget: 8})
			if got := k.w(r).batch; got != 8 {
				t.Fatalf("batch target %d, want 8", got)
			}
			for i := range 8 {
				if err := r.Push(ctx, r64(i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := r.Wait(ctx, 0); err != nil {
				t.Fatal(err)
			}
			if n := r.Drain(make([]rec, 16)); n != 8 {
				t.Fatalf("drained %d, want 8", n)
			}
			// Nothing ready: the timeout applies, no lingering.
			start := time.Now()
			if err := r.Wait(ctx, time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("empty Wait took %v", d)
			}

			// Short batch: Wait lingers for BatchLinger, then returns nil.
			const linger = 20 * time.Millisecond
			r = k.new(t, Options{Capacity: 64, BatchLinger: linger})
			if err := r.Push(ctx, r64(0)); err != nil {
				t.Fatal(err)
			}
			start = time.Now()
			if err := r.Wait(ctx, 0); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d < linger {
				t.Fatalf("Wait returned after %v, want >= %v", d, linger)
			}
			if n := r.Drain(make([]rec, 4)); n != 1 {
				t.Fatalf("drained %d, want 1", n)
			}

			// Close ends the lingering.
			r = k.new(t, Options{Capacity: 64, BatchLinger: time.Hour})
			if err := r.Push(ctx, r64(0)); err != nil {
				t.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() { errc <- r.Wait(ctx, 0) }()
			for range 100 {
				runtime.Gosched()
			}
			r.Close()
			if err := <-errc; err != nil {
				t.Fatalf("Wait = %v, want nil (one record left)", err)
			}
			if n := r.Drain(make([]rec, 4)); n != 1 {
				t.Fatalf("drained %d, want 1", n)
			}
			if err := r.Wait(ctx, 0); err != ErrClosed {
				t.Fatalf("Wait after drain = %v, want ErrClosed", err)
			}

			// Disabled: returns at once.
			r = k.new(t, Options{Capacity: 64, BatchLinger: -1})
			if k.w(r).linger != 0 {
				t.Fatalf("negative BatchLinger: linger %v", k.w(r).linger)
			}
		})
	}
}

func TestBatchOptions(t *testing.T) {
	for _, c := range []struct {
		o    Options
		want uint64
	}{
		{Options{}, DefaultBatchTarget},
		{Options{Capacity: 64}, 16},
		{Options{Capacity: 2}, 1},
		{Options{Capacity: 4096, BatchTarget: 100}, 100},
	} {
		r, err := NewMPSC[uint64](c.o)
		if err != nil {
			t.Fatal(err)
		}
		if r.w.batch != c.want {
			t.Errorf("%+v: batch %d, want %d", c.o, r.w.batch, c.want)
		}
	}
	if _, err := NewSPSC[uint64](Options{BatchTarget: -1}); err == nil {
		t.Error("negative BatchTarget accepted")
	}
	r, _ := NewSPSC[uint64](Options{})
	if runtime.GOMAXPROCS(0) > 1 && r.w.linger != DefaultBatchLinger {
		t.Errorf("default linger %v", r.w.linger)
	}
}
