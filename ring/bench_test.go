package ring

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Benchmarks: b.N is the number of records moved from producer goroutine(s)
// to one consumer goroutine, so ns/op is ns per record (also reported
// explicitly as ns/record). All rings and channels have the same capacity.
// The ring consumer is the pipeline's loop: Wait, then Drain up to 256.

const (
	benchCap   = 8192
	benchDrain = 256
	benchBatch = 64
)

// split divides n records among p producers.
func split(n, p, i int) int {
	q := n / p
	if i < n%p {
		q++
	}
	return q
}

func reportPerRecord(b *testing.B, start time.Time) {
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N), "ns/record")
}

// consume runs the ring consumer loop until n records have been drained.
func consume(b *testing.B, r testRing[rec], n int) {
	buf := make([]rec, benchDrain)
	ctx := context.Background()
	var sum uint64
	drains := 0
	defer func() { b.ReportMetric(float64(n)/float64(max(drains, 1)), "rec/drain") }()
	for got := 0; got < n; {
		if err := r.Wait(ctx, 0); err != nil {
			b.Fatal(err)
		}
		k := r.Drain(buf)
		drains++
		for _, v := range buf[:k] {
			sum += v.Seq
		}
		got += k
	}
	_ = sum
}

func BenchmarkSPSC(b *testing.B) {
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		r, _ := NewSPSC[rec](Options{Capacity: benchCap})
		ctx := context.Background()
		start := time.Now()
		b.ResetTimer()
		go func() {
			for i := range b.N {
				if err := r.Push(ctx, rec{Seq: uint64(i)}); err != nil {
					panic(err)
				}
			}
		}()
		consume(b, r, b.N)
		reportPerRecord(b, start)
	})
	b.Run("batched", func(b *testing.B) {
		b.ReportAllocs()
		r, _ := NewSPSC[rec](Options{Capacity: benchCap})
		ctx := context.Background()
		start := time.Now()
		b.ResetTimer()
		go func() {
			for i := 0; i < b.N; {
				s, err := r.Reserve(ctx, min(benchBatch, b.N-i))
				if err != nil {
					panic(err)
				}
				for j := range s {
					s[j] = rec{Seq: uint64(i + j)}
				}
				if err := r.Commit(len(s)); err != nil {
					panic(err)
				}
				i += len(s)
			}
		}()
		consume(b, r, b.N)
		reportPerRecord(b, start)
	})
}

// newProducers returns p handles with a lane each, or p nil handles (the
// shared lane) if !lanes. Lanes are allocated here, outside the timed part.
func newProducers(b *testing.B, r *MPSC[rec], p int, lanes bool) []*Producer[rec] {
	prs := make([]*Producer[rec], p)
	for i := range prs {
		if lanes {
			if prs[i] = r.NewProducer(); !prs[i].Exclusive() {
				b.Fatal("no lane")
			}
		}
	}
	return prs
}

// BenchmarkMPSC moves records from p producer goroutines to one consumer.
// producers=N: each producer pushes through its own lane (NewProducer), the
// intended use; shared/producers=N: through the shared lane (MPSC.Push,
// PushBatch: a CAS on the shared tail per record or run).
func BenchmarkMPSC(b *testing.B) {
	single := func(b *testing.B, p int, lanes bool) {
		b.ReportAllocs()
		r, _ := NewMPSC[rec](Options{Capacity: benchCap})
		ctx := context.Background()
		prs := newProducers(b, r, p, lanes)
		start := time.Now()
		b.ResetTimer()
		for i, pr := range prs {
			go func() {
				var err error
				for j := range split(b.N, p, i) {
					v := rec{P: uint32(i), Seq: uint64(j)}
					if pr != nil {
						err = pr.Push(ctx, v)
					} else {
						err = r.Push(ctx, v)
					}
					if err != nil {
						panic(err)
					}
				}
			}()
		}
		consume(b, r, b.N)
		reportPerRecord(b, start)
	}
	batched := func(b *testing.B, p int, lanes bool) {
		b.ReportAllocs()
		r, _ := NewMPSC[rec](Options{Capacity: benchCap})
		ctx := context.Background()
		prs := newProducers(b, r, p, lanes)
		start := time.Now()
		b.ResetTimer()
		for i, pr := range prs {
			go func() {
				batch := make([]rec, benchBatch)
				n := split(b.N, p, i)
				for j := 0; j < n; {
					s := batch[:min(benchBatch, n-j)]
					for k := range s {
						s[k] = rec{P: uint32(i), Seq: uint64(j + k)}
					}
					var err error
					if pr != nil {
						_, err = pr.PushBatch(ctx, s)
					} else {
						_, err = r.PushBatch(ctx, s)
					}
					if err != nil {
						panic(err)
					}
					j += len(s)
				}
			}()
		}
		consume(b, r, b.N)
		reportPerRecord(b, start)
	}
	for _, p := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("producers=%d", p), func(b *testing.B) { single(b, p, true) })
	}
	for _, p := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("batched/producers=%d", p), func(b *testing.B) { batched(b, p, true) })
	}
	for _, p := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("shared/producers=%d", p), func(b *testing.B) { single(b, p, false) })
	}
	for _, p := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("shared/batched/producers=%d", p), func(b *testing.B) { batched(b, p, false) })
	}
}

// BenchmarkChan is the baseline: a buffered channel of the same capacity,
// one receiver.
func BenchmarkChan(b *testing.B) {
	run := func(b *testing.B, p int) {
		b.ReportAllocs()
		ch := make(chan rec, benchCap)
		start := time.Now()
		b.ResetTimer()
		var wg sync.WaitGroup
		for i := range p {
			wg.Go(func() {
				for j := range split(b.N, p, i) {
					ch <- rec{P: uint32(i), Seq: uint64(j)}
				}
			})
		}
		var sum uint64
		for range b.N {
			sum += (<-ch).Seq
		}
		_ = sum
		reportPerRecord(b, start)
		wg.Wait()
	}
	b.Run("single", func(b *testing.B) { run(b, 1) })
	for _, p := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("producers=%d", p), func(b *testing.B) { run(b, p) })
	}
}
