package offheap

import (
	"errors"
	"runtime"
	"testing"

	"github.com/edgeplane/edgeplane/internal/testenv"
)

type plain struct {
	a int64
	c [4]uint32
}

// withPointer holds a slice; it is only ever a type argument.
type withPointer struct {
	s []int
}

var _ = withPointer{s: nil}

// TestMakeRefusesPointers: the collector does not see this memory, so a
// type holding pointers must never live in it.
func TestMakeRefusesPointers(t *testing.T) {
	for _, err := range []error{
		func() error { _, _, err := Make[withPointer](1 << 20); return err }(),
		func() error { _, _, err := Make[*int](1 << 20); return err }(),
		func() error { _, _, err := Make[string](1 << 20); return err }(),
		func() error { _, _, err := Make[[2]any](1 << 20); return err }(),
	} {
		if !errors.Is(err, ErrPointers) {
			t.Errorf("err %v, want ErrPointers", err)
		}
	}
}

// TestMakeOffHeap: a large slice is zeroed, usable, outside the Go heap
// (the heap's own accounting does not grow by it) and gone from the
// address space after free; a small one comes from the heap.
func TestMakeOffHeap(t *testing.T) {
	const n = 5 << 20 // 5 Mi × 24 B = 120 MiB
	runtime.GC()
	heap0 := testenv.HeapObjectBytes()
	vm0 := testenv.ProcStatusBytes(t, "VmSize:")
	s, free, err := Make[plain](n)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, n / 2, n - 1} {
		if s[i] != (plain{}) {
			t.Fatalf("s[%d] = %+v, want zero", i, s[i])
		}
		s[i] = plain{a: int64(i), c: [4]uint32{1, 2, 3, 4}}
	}
	if s[n-1].a != n-1 || s[n/2].c[3] != 4 {
		t.Fatal("writes did not stick")
	}
	if grew := testenv.HeapObjectBytes() - heap0; grew > 16<<20 {
		t.Errorf("the Go heap grew by %d MiB for a 120 MiB off-heap slice", grew>>20)
	}
	if vm := testenv.ProcStatusBytes(t, "VmSize:"); vm-vm0 < 110<<20 {
		t.Errorf("address space grew by %d MiB, want the 120 MiB mapping", (vm-vm0)>>20)
	}
	free()
	free() // twice is harmless
	if vm := testenv.ProcStatusBytes(t, "VmSize:"); vm-vm0 > 64<<20 {
		t.Errorf("address space still %d MiB larger after free", (vm-vm0)>>20)
	}
	small, freeSmall, err := Make[plain](16)
	if err != nil || len(small) != 16 {
		t.Fatalf("small: %d, %v", len(small), err)
	}
	freeSmall()
	small[15].a = 1 // a heap slice: still valid after its no-op free
}
