package ring

import (
	"errors"
	"testing"
)

func TestParsePolicy(t *testing.T) {
	for _, p := range policies {
		got, err := ParsePolicy(p.String())
		if err != nil || got != p {
			t.Errorf("ParsePolicy(%q) = %v, %v", p.String(), got, err)
		}
	}
	if _, err := ParsePolicy("drop"); err == nil {
		t.Error("ParsePolicy(drop) succeeded")
	}
	if s := Policy(9).String(); s != "Policy(9)" {
		t.Errorf("String = %q", s)
	}
}

func TestOptions(t *testing.T) {
	for _, c := range []struct{ in, want int }{{0, DefaultCapacity}, {1, 2}, {2, 2}, {3, 4}, {1000, 1024}, {1024, 1024}} {
		r, err := NewMPSC[uint64](Options{Capacity: c.in})
		if err != nil || r.Cap() != c.want {
			t.Errorf("MPSC Capacity %d: cap %d, err %v; want %d", c.in, r.Cap(), err, c.want)
		}
		s, err := NewSPSC[uint64](Options{Capacity: c.in})
		if err != nil || s.Cap() != c.want {
			t.Errorf("SPSC Capacity %d: cap %d, err %v; want %d", c.in, s.Cap(), err, c.want)
		}
	}
	for _, o := range []Options{{Capacity: -1}, {Capacity: MaxCapacity + 1}, {Policy: 3}} {
		if _, err := NewMPSC[uint64](o); err == nil {
			t.Errorf("NewMPSC(%+v) succeeded", o)
		}
		if _, err := NewSPSC[uint64](o); err == nil {
			t.Errorf("NewSPSC(%+v) succeeded", o)
		}
	}
	r, _ := NewMPSC[uint64](Options{SpinBudget: -5})
	if r.w.spin != 0 {
		t.Errorf("negative spin budget: %d", r.w.spin)
	}
	r, _ = NewMPSC[uint64](Options{})
	if r.w.spin != DefaultSpinBudget || r.Policy() != Block {
		t.Errorf("defaults: spin %d policy %v", r.w.spin, r.Policy())
	}
}

func TestPointerFree(t *testing.T) {
	type ok struct {
		A [4]uint64
		B struct{ X, Y float64 }
		C [0]*int
	}
	if _, err := NewMPSC[ok](Options{}); err != nil {
		t.Errorf("pointer-free struct rejected: %v", err)
	}
	check := func(name string, err error) {
		t.Helper()
		if !errors.Is(err, ErrPointers) {
			t.Errorf("%s: err = %v, want ErrPointers", name, err)
		}
	}
	_, err := NewMPSC[*int](Options{})
	check("*int", err)
	_, err = NewMPSC[string](Options{})
	check("string", err)
	_, err = NewSPSC[struct {
		A int
		B [2]struct{ S []byte }
	}](Options{})
	check("nested slice", err)
	_, err = NewSPSC[any](Options{})
	check("interface", err)
	_, err = NewSPSC[map[int]int](Options{})
	check("map", err)
}
