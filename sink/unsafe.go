package sink

import "unsafe"

// unsafeStringBytes views s as a byte slice for read-only use.
func unsafeStringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
