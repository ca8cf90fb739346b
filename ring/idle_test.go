package ring

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns this process's user+system CPU time.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestIdleConsumerParks runs the pipeline's consumer loop (with its 200 ms
// tick) on each ring kind, feeds it until it has drained everything, and then
// measures process CPU time over one second of idleness: a parked consumer
// burns (almost) none. A consumer that spun or yielded instead would burn a
// full core, i.e. ~1 s.
func TestIdleConsumerParks(t *testing.T) {
	const bound = 50 * time.Millisecond
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			r := k.new(t, Options{Capacity: 1024})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var (
				mu       sync.Mutex
				received int
			)
			done := make(chan struct{})
			go func() {
				defer close(done)
				buf := make([]rec, 256)
				for {
					if err := r.Wait(ctx, 200*time.Millisecond); err != nil {
						return
					}
					n := r.Drain(buf)
					mu.Lock()
					received += n
					mu.Unlock()
				}
			}()
			for i := range 10_000 {
				if err := r.Push(ctx, rec{Seq: uint64(i)}); err != nil {
					t.Fatal(err)
				}
			}
			w := k.w(r)
			poll(t, "consumer to drain and park", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return received == 10_000 && w.parked.Load() == 1
			})

			before := cpuTime(t)
			time.Sleep(time.Second) // the only sleep in the tests: we measure CPU, not wall time
			used := cpuTime(t) - before
			t.Logf("CPU used while idle for 1s: %v", used)
			if used > bound {
				t.Errorf("idle consumer used %v CPU in 1s, want < %v", used, bound)
			}

			r.Close()
			<-done
		})
	}
}
