package offheap

import (
	"errors"
	"fmt"
	"reflect"
	"unsafe"
)

// ErrPointers is returned by Make for an element type holding pointers.
var ErrPointers = errors.New("offheap: element type holds pointers")

// minBytes is the smallest allocation worth a mapping of its own: below
// it Make uses the Go heap (a mapping costs a page and a system call).
const minBytes = 64 << 10

// Make returns a zeroed slice of n Ts. Large slices are mapped outside the
// Go heap (where the platform can: mmap_unix.go); free releases the
// memory and must be called at most once, after the last use of the
// slice. For a small n, or where mapping fails, the slice is an ordinary
// Go slice and free does nothing.
func Make[T any](n int) (s []T, free func(), err error) {
	t := reflect.TypeFor[T]()
	if HasPointers(t) {
		return nil, nil, fmt.Errorf("%w: %v", ErrPointers, t)
	}
	size := uintptr(n) * t.Size()
	if n <= 0 || t.Size() == 0 || size < minBytes || size/t.Size() != uintptr(n) {
		return make([]T, n), func() {}, nil
	}
	mem, release, err := mapAnon(size)
	if err != nil {
		return make([]T, n), func() {}, nil // the heap will do
	}
	return unsafe.Slice((*T)(mem), n), release, nil
}

// HasPointers reports whether values of t hold any pointer the garbage
// collector must see.
func HasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Array:
		return t.Len() > 0 && HasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if HasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	case reflect.Pointer, reflect.UnsafePointer, reflect.String, reflect.Slice,
		reflect.Map, reflect.Chan, reflect.Func, reflect.Interface:
		return true
	}
	return false
}
