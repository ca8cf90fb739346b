//go:build unix

package offheap

import (
	"sync"
	"syscall"
	"unsafe"
)

// mapAnon maps size bytes of zeroed private memory.
func mapAnon(size uintptr) (unsafe.Pointer, func(), error) {
	b, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, nil, err
	}
	var once sync.Once
	return unsafe.Pointer(unsafe.SliceData(b)), func() { once.Do(func() { _ = syscall.Munmap(b) }) }, nil
}
