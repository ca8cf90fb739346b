//go:build race

package operators

// raceEnabled skips the allocation tests: the race detector's
// instrumentation allocates (and sync.Pool drops items), so AllocsPerRun
// does not measure the code under -race.
const raceEnabled = true

const raceSkipReason = "allocation counts are meaningless under -race: the detector's instrumentation allocates"
