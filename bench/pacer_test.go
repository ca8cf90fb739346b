package bench

import (
	"context"
	"math"
	"testing"
	"time"
)

// TestPacerRate runs a pacer at 10,000 events/s for 5 s, consuming each
// burst as fast as it comes, and checks the released count over the
// measured elapsed time is within 2% of the target.
func TestPacerRate(t *testing.T) {
	if testing.Short() {
		t.Skip("5 s of pacing")
	}
	const rate = 10_000.0
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p := NewPacer(rate)
	var n, calls int
	var last time.Time
	for {
		k, now, err := p.Next(ctx, 64)
		if err != nil {
			break
		}
		n += k
		calls++
		last = now
	}
	el := last.Sub(p.Start()).Seconds()
	got := float64(n) / el
	t.Logf("%d events in %.3fs = %.1f/s over %d bursts", n, el, got, calls)
	if el < 4.5 {
		t.Fatalf("ran only %.3fs", el)
	}
	if math.Abs(got-rate)/rate > 0.02 {
		t.Fatalf("rate %.1f/s, want %.0f/s ±2%%", got, rate)
	}
	if uint64(n) != p.Released() {
		t.Fatalf("released %d, counted %d", p.Released(), n)
	}
}

// TestPacerCatchesUp: a consumer that stalls gets the missed events as
// bursts (bounded by max) so the long-run rate holds.
func TestPacerCatchesUp(t *testing.T) {
	p := NewPacer(1000)
	p.start = p.start.Add(-time.Second) // as if the caller stalled 1 s
	ctx := context.Background()
	k, _, err := p.Next(ctx, 100)
	if err != nil || k != 100 {
		t.Fatalf("burst %d, %v; want 100", k, err)
	}
	total := k
	for total < 1000 {
		k, _, err = p.Next(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		total += k
	}
	if total > 1100 {
		t.Fatalf("released %d after ~1 s at 1000/s", total)
	}
}

func TestPacerMaxRate(t *testing.T) {
	p := NewPacer(0)
	k, _, err := p.Next(context.Background(), 32)
	if err != nil || k != 32 {
		t.Fatalf("max rate: %d, %v", k, err)
	}
}
