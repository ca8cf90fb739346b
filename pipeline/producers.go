package pipeline

import (
	"runtime"

	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/ring"
)

// Each receive goroutine pushes into the shards' rings through its own
// ring producer handles, kept in its decode.Batch's Local: a handle owns a
// lane of the ring while lanes last, so the connections of a source do
// not contend on one ring tail (ring.MPSC.NewProducer). Watermark markers
// still go through the ring's shared lane; the ring drains a marker only
// after the lane records pushed before it, which is what the in-band
// watermarks need.

// producers is one receiver's handles, per pipeline.
type producers struct {
	entries []prodEntry
}

type prodEntry struct {
	p   *pipe
	set *handleSet
}

// handleSet is one receiver's handles for one pipeline's rings. Its lanes
// go back to the rings when it becomes unreachable: when the receiver is
// dropped without notice (its source stopped, or the WebSocket receiver
// pool shed it), or when handles drops it because its pipeline stopped.
// Nothing can push through it then, so the release cannot race a push.
type handleSet struct {
	hs []*ring.Producer[record.Sample] // per ring
	// buf is deliver's scratch: samples bound for one ring are gathered
	// here and pushed as a batch. Kept with the handles so a delivery
	// neither zeroes nor allocates it.
	buf [16]record.Sample
}

// handles returns the producer handles of the receiver whose Batch.Local
// is *local, for p's rings, making them on first use.
func (p *pipe) handles(local *any) *handleSet {
	ps, _ := (*local).(*producers)
	if ps != nil {
		for i := range ps.entries {
			if ps.entries[i].p == p {
				return ps.entries[i].set
			}
		}
	} else {
		ps = &producers{}
		*local = ps
	}
	// Forget the handles of pipelines that have stopped (reloads).
	kept := ps.entries[:0]
	for _, e := range ps.entries {
		if !e.p.stopped.Load() {
			kept = append(kept, e)
		}
	}
	clear(ps.entries[len(kept):])
	set := &handleSet{hs: make([]*ring.Producer[record.Sample], len(p.rings))}
	for i, r := range p.rings {
		set.hs[i] = r.NewProducer()
	}
	runtime.AddCleanup(set, releaseAll, set.hs)
	ps.entries = append(kept, prodEntry{p: p, set: set})
	return set
}

func releaseAll(hs []*ring.Producer[record.Sample]) {
	for _, h := range hs {
		h.Release()
	}
}
