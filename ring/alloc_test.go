package ring

import (
	"context"
	"fmt"
	"testing"
)

// TestZeroAllocs proves the hot paths allocate nothing: Push, PushBatch,
// Reserve/Commit, Drain, and Wait when records are ready; on both ring kinds
// and on MPSC producer lanes (Producer.Push, Producer.PushBatch, Drain over
// several lanes).
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("skipped under -race: the race detector's instrumentation allocates, so allocation counts are meaningless")
	}
	ctx := context.Background()
	batch := make([]rec, 16)
	dst := make([]rec, 64)
	check := func(name string, f func()) {
		t.Helper()
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocs/op, want 0", name, n)
		}
	}
	for _, p := range policies {
		m, _ := NewMPSC[rec](Options{Capacity: 64, Policy: p})
		s, _ := NewSPSC[rec](Options{Capacity: 64, Policy: p})
		ml, _ := NewMPSC[rec](Options{Capacity: 64, Policy: p})
		lane := laneRing{ml, ml.NewProducer()}
		// A second lane and the shared lane hold records too, so that Drain
		// goes through its epochs over several lanes.
		other := ml.NewProducer()
		for _, r := range []testRing[rec]{m, s, lane} {
			name := func(op string) string { return fmt.Sprintf("%s/%T/%v", op, r, p) }
			if r == testRing[rec](lane) {
				check(name("lanes: Push+PushBatch+Drain"), func() {
					_ = other.Push(ctx, rec{Seq: 3})
					_ = ml.Push(ctx, rec{Seq: 4})
					_, _ = other.PushBatch(ctx, batch[:3])
					_ = lane.Push(ctx, rec{Seq: 5})
					for ml.Drain(dst[:7]) > 0 {
					}
				})
			}
			check(name("Push+Drain"), func() {
				_ = r.Push(ctx, rec{Seq: 1})
				r.Drain(dst)
			})
			check(name("PushBatch+Wait+Drain"), func() {
				_, _ = r.PushBatch(ctx, batch)
				if err := r.Wait(ctx, 0); err != nil {
					panic(err)
				}
				r.Drain(dst)
			})
			if p != Block { // the full-ring paths: drop or evict
				check(name("Push on full"), func() {
					for range 80 {
						_ = r.Push(ctx, rec{Seq: 2})
					}
					r.Drain(dst)
				})
			}
		}
		check("SPSC Reserve/Commit+Drain/"+p.String(), func() {
			sl, err := s.Reserve(ctx, 16)
			if err != nil {
				panic(err)
			}
			for i := range sl {
				sl[i] = rec{Seq: uint64(i)}
			}
			_ = s.Commit(len(sl))
			s.Drain(dst)
		})
	}
}
