package ring

import (
	"testing"
	"unsafe"
)

type rec32 [4]int64 // 32 bytes, like record.Sample

// TestMPSCMaxBytes checks the bound against the ring's own arrays after
// every lane has been taken.
func TestMPSCMaxBytes(t *testing.T) {
	for _, o := range []Options{{Capacity: 1000}, {Capacity: 64, Lanes: 2}, {Capacity: 16, Lanes: -1}, {}} {
		r, err := NewMPSC[rec32](o)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := o.config()
		for range c.lanes {
			r.NewProducer()
		}
		got := int64(cap(r.slots)) * int64(unsafe.Sizeof(r.slots[0]))
		for i := range r.lanes {
			if l := r.lanes[i].Load(); l != nil {
				got += int64(cap(l.buf)) * 32
			}
		}
		if want := MPSCMaxBytes[rec32](o); got != want {
			t.Errorf("%+v: ring holds %d B of records with every lane taken, MPSCMaxBytes says %d", o, got, want)
		}
	}
	if got := MPSCMaxBytes[rec32](Options{Capacity: 1000, Lanes: 3}); got != 1024*(48+3*32) {
		t.Errorf("1000 rounds to 1024 slots of 48 B plus 3 lanes of 32 B records: got %d", got)
	}
}
