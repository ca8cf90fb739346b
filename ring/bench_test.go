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

func BenchmarkMPSC(b *testing.B) {
	for _, p := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("producers=%d", p), func(b *testing.B) {
			b.ReportAllocs()
			r, _ := NewMPSC[rec](Options{Capacity: benchCap})
			ctx := context.Background()
			start := time.Now()
			b.ResetTimer()
			for i := range p {
				go func() {
					for j := range split(b.N, p, i) {
						if err := r.Push(ctx, rec{P: uint32(i), Seq: uint64(j)}); err != nil {
							panic(err)
						}
					}
				}()
			}
			consume(b, r, b.N)
			reportPerRecord(b, start)
		})
	}
	for _, p := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("batched/producers=%d", p), func(b *testing.B) {
			b.ReportAllocs()
			r, _ := NewMPSC[rec](Options{Capacity: benchCap})
			ctx := context.Background()
			start := time.Now()
			b.ResetTimer()
			for i := range p {
				go func() {
					batch := make([]rec, benchBatch)
					n := split(b.N, p, i)
					for j := 0; j < n; {
						s := batch[:min(benchBatch, n-j)]
						for k := range s {
							s[k] = rec{P: uint32(i), Seq: uint64(j + k)}
						}
						if _, err := r.PushBatch(ctx, s); err != nil {
							panic(err)
						}
						j += len(s)
					}
				}()
			}
			consume(b, r, b.N)
			reportPerRecord(b, start)
		})
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
