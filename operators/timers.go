package operators

// timerHeap is an indexed binary min-heap of firing times. Each owner (a
// key for tumbling/hopping, a window slot for sessions) has at most one
// entry, so the heap is bounded by the number of owners and is preallocated:
// setting an owner's time moves its entry instead of pushing a new one, and
// no stale entries pile up. A watermark advance pops only what is due,
// instead of scanning every series.
type timerHeap struct {
	at    []int64 // firing time per heap position
	owner []int32 // owner per heap position
	pos   []int32 // heap position per owner; -1 when not scheduled
}

func newTimerHeap(owners int, a *arena) timerHeap {
	// The owners' positions are set to -1 (not queued) by initOwners as
	// owners come into use (residency.go), not here.
	return timerHeap{
		at:    arenaMake[int64](a, owners)[:0],
		owner: arenaMake[int32](a, owners)[:0],
		pos:   arenaMake[int32](a, owners),
	}
}

// initOwners marks owners [from, to) as not queued.
func (h *timerHeap) initOwners(from, to int) {
	for i := from; i < to; i++ {
		h.pos[i] = -1
	}
}

// peek returns the earliest firing time and its owner; ok is false when the
// heap is empty.
func (h *timerHeap) peek() (at int64, owner int32, ok bool) {
	if len(h.at) == 0 {
		return 0, -1, false
	}
	return h.at[0], h.owner[0], true
}

// scheduledAt returns the time owner o fires at, and whether it is
// scheduled.
func (h *timerHeap) scheduledAt(o int32) (int64, bool) {
	p := h.pos[o]
	if p < 0 {
		return 0, false
	}
	return h.at[p], true
}

// set schedules owner o at time at, replacing its previous time.
func (h *timerHeap) set(o int32, at int64) {
	p := h.pos[o]
	if p < 0 {
		p = int32(len(h.at))
		h.at = append(h.at, at)
		h.owner = append(h.owner, o)
		h.pos[o] = p
		h.up(int(p))
		return
	}
	old := h.at[p]
	h.at[p] = at
	if at < old {
		h.up(int(p))
	} else if at > old {
		h.down(int(p))
	}
}

// remove unschedules owner o (no-op if it is not scheduled).
func (h *timerHeap) remove(o int32) {
	p := int(h.pos[o])
	if p < 0 {
		return
	}
	last := len(h.at) - 1
	if p != last {
		h.swap(p, last)
	}
	h.at = h.at[:last]
	h.owner = h.owner[:last]
	h.pos[o] = -1
	if p != last {
		if !h.up(p) {
			h.down(p)
		}
	}
}

func (h *timerHeap) clear() {
	for _, o := range h.owner {
		h.pos[o] = -1
	}
	h.at = h.at[:0]
	h.owner = h.owner[:0]
}

func (h *timerHeap) swap(i, j int) {
	h.at[i], h.at[j] = h.at[j], h.at[i]
	h.owner[i], h.owner[j] = h.owner[j], h.owner[i]
	h.pos[h.owner[i]] = int32(i)
	h.pos[h.owner[j]] = int32(j)
}

func (h *timerHeap) up(i int) bool {
	moved := false
	for i > 0 {
		p := (i - 1) / 2
		if h.at[p] <= h.at[i] {
			break
		}
		h.swap(i, p)
		i = p
		moved = true
	}
	return moved
}

func (h *timerHeap) down(i int) {
	n := len(h.at)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.at[r] < h.at[l] {
			m = r
		}
		if h.at[i] <= h.at[m] {
			return
		}
		h.swap(i, m)
		i = m
	}
}
