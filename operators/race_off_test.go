//go:build !race

package operators

const raceEnabled = false

const raceSkipReason = "allocation counts are meaningless under -race: the detector's instrumentation allocates"
