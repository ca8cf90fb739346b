package operators

import (
	"runtime"

	"github.com/edgeplane/edgeplane/internal/offheap"
)

// arena holds a shard's large state arrays — keys, slots, timers, series
// clocks, the stateless chain's per-key state, sketches — outside the Go
// heap (internal/offheap): they are pointer-free and live as long as the
// shard, so on the heap they would only raise the collector's heap goal
// by their own size in garbage headroom. Untouched, they cost no resident
// memory either (residency.go).
type arena struct{ frees []func() }

// arenaMake returns a zeroed slice of n Ts from a.
func arenaMake[T any](a *arena, n int) []T {
	s, free, err := offheap.Make[T](n)
	if err != nil {
		panic("operators: " + err.Error()) // a state type with pointers: caught by every test
	}
	a.frees = append(a.frees, free)
	return s
}

// releaseWith frees a's memory once s is unreachable. Nothing outside the
// shard holds a slice of its state, so unreachable means unused.
func releaseWith(s *Shard, a *arena) {
	runtime.AddCleanup(s, func(a *arena) {
		for _, f := range a.frees {
			f()
		}
	}, a)
}
