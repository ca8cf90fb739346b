//go:build !race

package decode

// raceEnabled skips allocation budgets: the race detector instruments code
// and allocates on its own, so AllocsPerRun counts are meaningless there.
const raceEnabled = false
