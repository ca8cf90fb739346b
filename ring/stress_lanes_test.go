package ring

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestStressLanes runs producers on an MPSC with lanes against the
// pipeline's consumer loop, for every policy, with and without Close while
// producers push. Producers 0-3 push through Producer handles and every few
// hundred records release theirs and take a new one; there are fewer lanes
// than such producers, so handles move between lanes (reused only once
// drained) and to the shared lane. Producer 4 pushes through MPSC.Push and
// PushBatch. The consumer drains with dst sizes from 1 to 256.
//
// Checks, per producer: every record sent (enqueued, or dropped by the
// policy) is received or dropped exactly once, and no other record is;
// records of one handle arrive in order (records pushed through different
// handles are not ordered); the drops the hook saw add up to Dropped().
func TestStressLanes(t *testing.T) {
	for _, p := range policies {
		for _, early := range []bool{false, true} {
			name := p.String()
			if early {
				name += "/close-early"
			}
			t.Run(name, func(t *testing.T) { stressLanes(t, p, early) })
		}
	}
}

const (
	flagDropped  = 1
	flagReceived = 2
)

func stressLanes(t *testing.T, pol Policy, closeEarly bool) {
	const producers = 5
	perProducer := stressPerProducer / 4
	capacity := 1024
	if pol != Block {
		capacity = 64
	}
	r, err := NewMPSC[rec](Options{Capacity: capacity, Policy: pol, SpinBudget: 64, Lanes: 3})
	if err != nil {
		t.Fatal(err)
	}
	var (
		// state[p][seq]: flagDropped (hook) | flagReceived (consumer).
		state    = make([][]atomic.Uint32, producers)
		sent     = make([]int, producers) // records 1..sent[p] were sent
		retDrops = make([]int, producers) // ErrFull from Push/PushBatch
		hooked   atomic.Int64
		hookedOf = make([]atomic.Int64, producers) // by the dropped record's producer
		attempts atomic.Int64
	)
	for p := range state {
		state[p] = make([]atomic.Uint32, perProducer+1)
	}
	r.SetDropHook(func(v rec) {
		if state[v.P][v.Seq].Or(flagDropped)&flagDropped != 0 {
			t.Errorf("record %d/%d dropped twice", v.P, v.Seq)
		}
		hooked.Add(1)
		hookedOf[v.P].Add(1)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	type pusher interface {
		Push(ctx context.Context, v rec) error
		PushBatch(ctx context.Context, vs []rec) (int, error)
	}
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			var w pusher = r
			var h *Producer[rec]
			if p < 4 {
				h = r.NewProducer()
				defer func() { h.Release() }()
				w = h
			}
			gen := uint64(0)
			batch := make([]rec, 32)
			seq := uint64(0)
			mk := func() rec { seq++; return rec{P: uint32(p), Seq: seq, A: seq * 3, B: gen} }
			for i := 0; seq < uint64(perProducer); i++ {
				if h != nil && i%97 == 96 {
					h.Release()
					h = r.NewProducer()
					w = h
					gen++
				}
				start := seq
				var n int // records of this call enqueued
				var err error
				if (p+i)%3 == 0 || seq+32 > uint64(perProducer) {
					if err = w.Push(ctx, mk()); err == nil {
						n = 1
					}
				} else {
					b := batch[:1+i%32]
					for j := range b {
						b[j] = mk()
					}
					n, err = w.PushBatch(ctx, b)
				}
				switch err {
				case nil, ErrFull: // ErrFull: the rest was dropped, and counts as sent
					retDrops[p] += int(seq-start) - n
				case ErrClosed:
					sent[p] = int(start) + n
					return
				default:
					t.Errorf("producer %d: %v", p, err)
					return
				}
				sent[p] = int(seq)
				attempts.Add(int64(seq - start))
			}
		})
	}
	if closeEarly {
		wg.Go(func() {
			for attempts.Load() < int64(producers*perProducer/3) && ctx.Err() == nil {
				runtime.Gosched()
			}
			r.Close()
		})
	}

	type key struct{ p, gen uint64 }
	last := map[key]uint64{}
	buf := make([]rec, 256)
	sizes := []int{1, 7, 64, 256, 3, 256}
	received := 0
	for i := 0; ; i++ {
		if err := r.Wait(ctx, 200*time.Millisecond); err != nil {
			if err != ErrClosed {
				t.Fatalf("Wait: %v", err)
			}
			break
		}
		n := r.Drain(buf[:sizes[i%len(sizes)]])
		for _, v := range buf[:n] {
			if v.P >= producers || v.Seq == 0 || v.Seq > uint64(perProducer) || v.A != v.Seq*3 {
				t.Fatalf("corrupt record %+v", v)
			}
			if state[v.P][v.Seq].Or(flagReceived)&flagReceived != 0 {
				t.Fatalf("record %d/%d received twice", v.P, v.Seq)
			}
			k := key{uint64(v.P), v.B}
			if v.Seq <= last[k] {
				t.Fatalf("producer %d handle %d: seq %d after %d", v.P, v.B, v.Seq, last[k])
			}
			last[k] = v.Seq
		}
		received += n
		if !closeEarly && received+int(r.Dropped()) == producers*perProducer {
			r.Close()
		}
	}
	wg.Wait()
	if r.Len() != 0 || r.Drain(buf) != 0 {
		t.Fatalf("records left after ErrClosed: Len %d", r.Len())
	}

	for p := range producers {
		for seq := 1; seq <= perProducer; seq++ {
			st := state[p][seq].Load()
			switch {
			case seq <= sent[p] && st != flagDropped && st != flagReceived:
				t.Fatalf("producer %d: sent record %d has state %d (lost or both received and dropped)", p, seq, st)
			case seq > sent[p] && st != 0:
				t.Fatalf("producer %d: record %d not sent but has state %d", p, seq, st)
			}
		}
		if pol == DropNewest && int(hookedOf[p].Load()) != retDrops[p] {
			t.Errorf("producer %d: hook saw %d drops, Push/PushBatch reported %d", p, hookedOf[p].Load(), retDrops[p])
		}
		if !closeEarly && sent[p] != perProducer {
			t.Errorf("producer %d: sent %d, want %d", p, sent[p], perProducer)
		}
	}
	if pol == Block && hooked.Load() != 0 {
		t.Errorf("%d drops under Block", hooked.Load())
	}
	if uint64(hooked.Load()) != r.Dropped() {
		t.Errorf("hook saw %d drops, Dropped() = %d", hooked.Load(), r.Dropped())
	}
	t.Logf("sent %v, received %d, dropped %d, lanes %d", sent, received, r.Dropped(), r.nlanes.Load())
}

// TestStressLaneOrder checks the ordering guarantee under load: producers
// push numbered records through their lanes and, every few records, a
// marker through the shared lane (MPSC.Push) carrying the highest number
// whose push had returned nil. Once the consumer has drained a marker, no
// record of that producer numbered at or below it may follow; under Block
// and DropNewest (where an enqueued record is never dropped afterwards) the
// consumer must also already have drained that record.
func TestStressLaneOrder(t *testing.T) {
	for _, pol := range policies {
		t.Run(pol.String(), func(t *testing.T) {
			const producers = 3
			perProducer := stressPerProducer / 10
			capacity := 1024
			if pol != Block {
				capacity = 64
			}
			r, err := NewMPSC[rec](Options{Capacity: capacity, Policy: pol, SpinBudget: 64})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			const marker = 1
			var wg sync.WaitGroup
			for p := range producers {
				wg.Go(func() {
					h := r.NewProducer()
					defer h.Release()
					if !h.Exclusive() {
						t.Error("no lane")
						return
					}
					batch := make([]rec, 8)
					high := uint64(0)
					for seq := uint64(1); seq <= uint64(perProducer); {
						var err error
						if seq%5 == 0 {
							b := batch[:min(uint64(len(batch)), uint64(perProducer)-seq+1)]
							for j := range b {
								b[j] = rec{P: uint32(p), Seq: seq + uint64(j)}
							}
							var n int
							n, err = h.PushBatch(ctx, b)
							if n > 0 {
								high = seq + uint64(n) - 1
							}
							seq += uint64(len(b))
						} else {
							err = h.Push(ctx, rec{P: uint32(p), Seq: seq})
							if err == nil {
								high = seq
							}
							seq++
						}
						if err != nil && err != ErrFull {
							t.Errorf("push: %v", err)
							return
						}
						if seq%128 == 0 {
							runtime.Gosched() // let the consumer interleave, even when pushes drop
						}
						if seq%3 == 0 && high > 0 {
							if err := r.Push(ctx, rec{P: uint32(p), Seq: high, A: marker}); err != nil && err != ErrFull {
								t.Errorf("marker: %v", err)
								return
							}
						}
					}
				})
			}
			go func() { wg.Wait(); r.Close() }()

			maxSeen := make([]uint64, producers)
			covered := make([]uint64, producers)
			buf := make([]rec, 64)
			markers := 0
			for i := 0; ; i++ {
				if err := r.Wait(ctx, 200*time.Millisecond); err != nil {
					if err != ErrClosed {
						t.Fatalf("Wait: %v", err)
					}
					break
				}
				n := r.Drain(buf[:1+i%len(buf)])
				for _, v := range buf[:n] {
					if v.A == marker {
						markers++
						if v.Seq < covered[v.P] {
							t.Fatalf("producer %d: marker %d after marker %d", v.P, v.Seq, covered[v.P])
						}
						covered[v.P] = v.Seq
						if pol != DropOldest && maxSeen[v.P] < v.Seq {
							t.Fatalf("producer %d: marker %d drained before record %d (seen up to %d)", v.P, v.Seq, v.Seq, maxSeen[v.P])
						}
						continue
					}
					if v.Seq <= covered[v.P] {
						t.Fatalf("producer %d: record %d drained after marker %d", v.P, v.Seq, covered[v.P])
					}
					if v.Seq <= maxSeen[v.P] {
						t.Fatalf("producer %d: record %d after %d", v.P, v.Seq, maxSeen[v.P])
					}
					maxSeen[v.P] = v.Seq
				}
			}
			t.Logf("markers drained %d, records seen up to %v, dropped %d", markers, maxSeen, r.Dropped())
			if markers == 0 {
				t.Error("no marker drained")
			}
		})
	}
}

// TestLaneWakeAnyLane: a parked consumer is woken by a push on any lane,
// and by the shared lane, without polling.
func TestLaneWakeAnyLane(t *testing.T) {
	ctx := context.Background()
	r := newLaneMPSC(t, Options{Capacity: 8})
	ps := []*Producer[rec]{r.NewProducer(), r.NewProducer(), r.NewProducer()}
	for i := range len(ps) + 1 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			errc := make(chan error, 1)
			go func() { errc <- r.Wait(ctx, 0) }()
			poll(t, "consumer to park", func() bool { return r.w.parked.Load() == 1 })
			var err error
			if i < len(ps) {
				_, err = ps[i].PushBatch(ctx, []rec{r64(i)})
			} else {
				err = r.Push(ctx, r64(i))
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if n := r.Drain(make([]rec, 4)); n != 1 {
				t.Fatalf("drained %d", n)
			}
		})
	}
}
