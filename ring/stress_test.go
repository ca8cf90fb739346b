package ring

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestStress runs producers against the pipeline's consumer loop for every
// ring kind and policy, and checks per producer: FIFO order among received
// records, no duplicates, and received + dropped == sent exactly, where
// dropped is attributed per producer through the drop hook and the per-
// producer sum must equal the ring's Dropped counter.
//
// The close-early variant closes the ring while producers are still pushing:
// "sent" is then every record whose Push/PushBatch/Commit did not return
// ErrClosed, so the test also proves that Close loses no record a producer
// was told was enqueued.
func TestStress(t *testing.T) {
	for _, k := range kinds {
		for _, p := range policies {
			for _, early := range []bool{false, true} {
				name := k.name + "/" + p.String()
				if early {
					name += "/close-early"
				}
				t.Run(name, func(t *testing.T) { stress(t, k, p, early) })
			}
		}
	}
}

func stress(t *testing.T, k kind, pol Policy, closeEarly bool) {
	producers, perProducer := 4, stressPerProducer
	if k.single {
		producers, perProducer = 1, 4*stressPerProducer
	}
	capacity := 1024
	if pol != Block {
		capacity = 64 // make drops frequent
	}
	r := k.new(t, Options{Capacity: capacity, Policy: pol, SpinBudget: 64})

	var (
		sent         = make([]int, producers)
		retDrops     = make([]int, producers) // ErrFull from Push/PushBatch
		reserveDrops = make([]int, producers) // ErrFull from Reserve (not hooked)
		hookDrops    = make([]atomic.Int64, producers)
		received     = make([]int, producers)
		consumed     atomic.Int64
		attempted    atomic.Int64 // records producers have tried to send
	)
	r.SetDropHook(func(v rec) { hookDrops[v.P].Add(1) })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			batch := make([]rec, 32)
			seq := uint64(0)
			mk := func() rec { seq++; return rec{P: uint32(p), Seq: seq, A: seq * 3} }
			for i := 0; seq < uint64(perProducer); i++ {
				start := seq
				mode := (p + i) % 3
				switch {
				case mode == 0 || seq+32 > uint64(perProducer):
					err := r.Push(ctx, mk())
					switch err {
					case nil:
						sent[p]++
					case ErrFull:
						sent[p]++
						retDrops[p]++
					case ErrClosed:
						return
					default:
						t.Errorf("Push: %v", err)
						return
					}
				case mode == 1 || k.name != "SPSC":
					b := batch[:1+i%32]
					for j := range b {
						b[j] = mk()
					}
					n, err := r.PushBatch(ctx, b)
					sent[p] += n
					switch err {
					case nil:
					case ErrFull:
						sent[p] += len(b) - n
						retDrops[p] += len(b) - n
					case ErrClosed:
						return
					default:
						t.Errorf("PushBatch: %v", err)
						return
					}
				default: // SPSC reserve/commit
					s := r.(*SPSC[rec])
					want := 1 + i%32
					slots, err := s.Reserve(ctx, want)
					switch err {
					case nil:
					case ErrFull:
						for range want {
							mk()
						}
						sent[p] += want
						reserveDrops[p] += want
						attempted.Add(int64(seq - start))
						continue
					case ErrClosed:
						return
					default:
						t.Errorf("Reserve: %v", err)
						return
					}
					for j := range slots {
						slots[j] = mk()
					}
					if err := s.Commit(len(slots)); err == ErrClosed {
						return
					} else if err != nil {
						t.Errorf("Commit: %v", err)
						return
					}
					sent[p] += len(slots)
				}
				attempted.Add(int64(seq - start))
			}
		})
	}
	if closeEarly {
		wg.Go(func() {
			total := int64(producers * perProducer)
			for attempted.Load() < total/3 && ctx.Err() == nil {
				runtime.Gosched()
			}
			r.Close()
		})
	}

	// The consumer loop the pipeline runs.
	buf := make([]rec, 256)
	last := make([]uint64, producers)
	for {
		if err := r.Wait(ctx, 200*time.Millisecond); err != nil {
			if err != ErrClosed {
				t.Fatalf("Wait: %v", err)
			}
			break
		}
		n := r.Drain(buf)
		for _, v := range buf[:n] {
			if int(v.P) >= producers || v.A != v.Seq*3 {
				t.Fatalf("corrupt record %+v", v)
			}
			if v.Seq <= last[v.P] {
				t.Fatalf("producer %d: seq %d after %d (reorder or duplicate)", v.P, v.Seq, last[v.P])
			}
			if pol == Block && v.Seq != last[v.P]+1 {
				t.Fatalf("producer %d: seq %d after %d under Block (loss)", v.P, v.Seq, last[v.P])
			}
			last[v.P] = v.Seq
			received[v.P]++
		}
		consumed.Add(int64(n))
		if !closeEarly && consumed.Load()+int64(r.Dropped()) == int64(producers*perProducer) {
			r.Close() // everything accounted for
		}
	}
	wg.Wait()
	if r.Len() != 0 || r.Drain(buf) != 0 {
		t.Fatalf("records left after ErrClosed: Len %d", r.Len())
	}

	var totalDropped uint64
	for p := range producers {
		dropped := int(hookDrops[p].Load()) + reserveDrops[p]
		totalDropped += uint64(dropped)
		if received[p]+dropped != sent[p] {
			t.Errorf("producer %d: received %d + dropped %d != sent %d", p, received[p], dropped, sent[p])
		}
		if pol == DropNewest && int(hookDrops[p].Load()) != retDrops[p] {
			t.Errorf("producer %d: hook saw %d drops, Push/PushBatch reported %d", p, hookDrops[p].Load(), retDrops[p])
		}
		if pol == Block && dropped != 0 {
			t.Errorf("producer %d: %d drops under Block", p, dropped)
		}
		if !closeEarly && sent[p] != perProducer {
			t.Errorf("producer %d: sent %d, want %d", p, sent[p], perProducer)
		}
	}
	if totalDropped != r.Dropped() {
		t.Errorf("per-producer drops %d != Dropped() %d", totalDropped, r.Dropped())
	}
	t.Logf("sent %v received %v dropped %d", sent, received, r.Dropped())
}
