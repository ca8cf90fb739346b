//go:build !race

package ring

const raceEnabled = false

// stressPerProducer is the number of records each stress-test producer sends
// (4 producers: 2M records per MPSC stress run).
const stressPerProducer = 500_000
