//go:build race

package ring

// raceEnabled: the race detector slows atomics ~10-50x and allocates, so
// stress counts are scaled down and allocation tests are skipped.
const raceEnabled = true

// stressPerProducer is the number of records each stress-test producer sends.
const stressPerProducer = 200_000
