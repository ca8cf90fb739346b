//go:build !unix

package offheap

import (
	"errors"
	"unsafe"
)

// mapAnon is not available here: Make falls back to the Go heap.
func mapAnon(uintptr) (unsafe.Pointer, func(), error) {
	return nil, nil, errors.New("offheap: no anonymous mappings on this platform")
}
