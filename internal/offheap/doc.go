// Package offheap allocates large pointer-free arrays outside the Go
// heap, in anonymous private memory mappings.
//
// The Go garbage collector sizes its heap goal from the live heap: with
// GOGC=100 a program may hold as much garbage as it holds live data before
// a collection. A window operator's preallocated state — a slot for every
// window max_series may open — is live from start to stop, so on the Go
// heap it would double itself in garbage headroom, although it holds no
// pointers for the collector to follow and is mostly never touched. Off
// the heap it costs only the pages actually written (a fresh mapping is
// zero pages the kernel materialises on first write), and the collector
// neither scans it nor counts it.
//
// Only element types without pointers (no pointers, slices, strings, maps,
// channels, functions or interfaces, at any depth) may live here: the
// collector does not see this memory, so a pointer stored in it would not
// keep its target alive. Make refuses other types.
//
// The memory is returned by Free, or by a cleanup the caller registers
// (runtime.AddCleanup) on the object that owns it; a slice must not be used
// after its memory is freed.
package offheap
