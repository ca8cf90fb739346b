package ring

import "unsafe"

// MPSCMaxBytes is the most memory an MPSC[T] made with o holds in records:
// the shared lane's Capacity slots (a sequence word, a run length and the
// record each) plus, once NewProducer has handed out every lane, Lanes
// producer lanes of Capacity records. Capacity is rounded up to a power of
// two as NewMPSC does. It returns 0 for options NewMPSC refuses.
func MPSCMaxBytes[T any](o Options) int64 {
	c, err := o.config()
	if err != nil {
		return 0
	}
	var t T
	return int64(c.capacity) * (int64(unsafe.Sizeof(mslot[T]{})) + int64(c.lanes)*int64(unsafe.Sizeof(t)))
}
