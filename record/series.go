package record

import (
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// ErrSeriesLimit is returned by SeriesTable.Intern when the table is full.
var ErrSeriesLimit = errors.New("record: series limit reached")

// SeriesTable interns series keys into dense ids 0..Max-1. It never grows
// past its bound: a key that would exceed it is refused and counted.
//
// It is safe for concurrent use. Looking up a known key — what every
// reading does — takes no lock and does not allocate: the keys live in an
// open-addressing hash index that writers (first sight of a key, under a
// mutex) only ever add published slots to, or replace as a whole with a
// larger copy. A reader holding a replaced index may miss a key added
// since; it then takes the mutex and finds it in the current one.
type SeriesTable struct {
	idx  atomic.Pointer[seriesIndex]
	seed maphash.Seed

	mu      sync.RWMutex // writers; Key and Len read keys under it
	keys    []string     // by id
	max     int
	refused atomic.Uint64
}

// seriesIndex is one generation of the hash index: a power-of-two array
// of slots, at most half full.
type seriesIndex struct {
	slots []seriesSlot
	mask  uint64
	used  int // writers only
}

// seriesSlot is published by storing hash (never 0) after key and id: a
// reader that loads a non-zero hash may read key and id.
type seriesSlot struct {
	hash atomic.Uint64
	id   uint32
	key  string
}

// minIndexSlots is the first index's size.
const minIndexSlots = 1 << 10

// NewSeriesTable returns a table that holds at most max keys.
func NewSeriesTable(max int) *SeriesTable {
	if max <= 0 {
		max = 1
	}
	t := &SeriesTable{seed: maphash.MakeSeed(), keys: make([]string, 0, min(max, 4096)), max: max}
	t.idx.Store(newSeriesIndex(minIndexSlots))
	return t
}

func newSeriesIndex(n int) *seriesIndex {
	return &seriesIndex{slots: make([]seriesSlot, n), mask: uint64(n - 1)}
}

// hash returns key's hash, never 0 (0 marks an empty slot).
func (t *SeriesTable) hash(key []byte) uint64 {
	return maphash.Bytes(t.seed, key) | 1
}

// find returns key's id in x.
func (x *seriesIndex) find(h uint64, key []byte) (uint32, bool) {
	for i := h & x.mask; ; i = (i + 1) & x.mask {
		s := &x.slots[i]
		switch sh := s.hash.Load(); {
		case sh == 0:
			return 0, false
		case sh == h && s.key == string(key):
			return s.id, true
		}
	}
}

// insert adds a key known to be absent; writers only, with room ensured.
func (x *seriesIndex) insert(h uint64, key string, id uint32) {
	i := h & x.mask
	for x.slots[i].hash.Load() != 0 {
		i = (i + 1) & x.mask
	}
	s := &x.slots[i]
	s.key, s.id = key, id
	s.hash.Store(h) // publish after writing
	x.used++
}

// Intern returns the id of key, adding it if it is new. key is not retained.
// When the table is full and key is new, it returns ErrSeriesLimit and
// counts the refusal.
func (t *SeriesTable) Intern(key []byte) (uint32, error) {
	h := t.hash(key)
	if id, ok := t.idx.Load().find(h, key); ok {
		return id, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	x := t.idx.Load()
	if id, ok := x.find(h, key); ok {
		return id, nil
	}
	if len(t.keys) >= t.max {
		t.refused.Add(1)
		return 0, ErrSeriesLimit
	}
	if 2*(x.used+1) > len(x.slots) {
		// Grow: build the larger index completely, then publish it.
		nx := newSeriesIndex(2 * len(x.slots))
		for i := range x.slots {
			if s := &x.slots[i]; s.hash.Load() != 0 {
				nx.insert(s.hash.Load(), s.key, s.id)
			}
		}
		t.idx.Store(nx)
		x = nx
	}
	s := string(key)
	id := uint32(len(t.keys))
	t.keys = append(t.keys, s)
	x.insert(h, s, id)
	return id, nil
}

// Key returns the key of id, or "" if id was never issued.
func (t *SeriesTable) Key(id uint32) string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if int(id) >= len(t.keys) {
		return ""
	}
	return t.keys[id]
}

// Len returns the number of interned keys.
func (t *SeriesTable) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.keys)
}

// Max returns the bound the table was made with.
func (t *SeriesTable) Max() int { return t.max }

// Refused returns how many Intern calls were refused for the bound.
func (t *SeriesTable) Refused() uint64 { return t.refused.Load() }
