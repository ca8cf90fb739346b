package pipeline

import "testing"

func TestGlobMatch(t *testing.T) {
	for _, c := range []struct {
		pat, key string
		want     bool
	}{
		{"", "", true}, {"*", "", true}, {"*", "d1/s1", true}, {"d1/*", "d1/s1", true}, {"d1/*", "d2/s1", false},
		{"d?/s1", "d7/s1", true}, {"d?/s1", "d17/s1", false}, {"*/s1", "d1/x/s1", true}, {"*s1", "d1/s10", false},
		{"d1/*/s*", "d1/air/s-3", true}, {"a*b*c", "aXbYbZc", true}, {"a*b*c", "aXbYc", true}, {"a*b*c", "acb", false},
		{"exact", "exact", true}, {"exact", "exactly", false},
	} {
		if got := globMatch(c.pat, []byte(c.key)); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v", c.pat, c.key, got)
		}
	}
}

// TestTapAdmit: a tap takes its kinds and source only, thins by its
// sample before its rate, and its token bucket allows a second's burst
// and then rate per second of the caller's clock.
func TestTapAdmit(t *testing.T) {
	tp := &tap{f: TapFilter{Kinds: TapReading | TapLate, Source: "air", Series: "d1/*", Rate: 10, Sample: 2}}
	key := []byte("d1/s1")
	if tp.admit(TapAggregate, "air", key, 1000) || tp.admit(TapReading, "noise", key, 1000) || tp.admit(TapReading, "air", []byte("d2/s1"), 1000) {
		t.Fatal("admitted another kind, source or series")
	}
	n := 0
	for range 100 { // at one instant: half sampled out, then the burst of 10
		if tp.admit(TapReading, "air", key, 1000) {
			n++
		}
	}
	if n != 10 || tp.sampled.Load() != 50 || tp.limited.Load() != 40 {
		t.Fatalf("admitted %d, sampled out %d, limited %d", n, tp.sampled.Load(), tp.limited.Load())
	}
	n = 0
	for ms := int64(1000); ms < 3000; ms += 10 { // 2 s later: 20 more
		for range 4 {
			if tp.admit(TapLate, "air", key, ms) {
				n++
			}
		}
	}
	if n < 19 || n > 21 {
		t.Fatalf("admitted %d over 2 s at 10/s", n)
	}
}
