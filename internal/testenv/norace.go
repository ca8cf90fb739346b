//go:build !race

package testenv

// RaceEnabled reports whether the race detector is on: allocation
// budgets do not hold under it (sync.Pool is a no-op there).
const RaceEnabled = false
