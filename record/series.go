package record

import (
	"errors"
	"sync"
	"sync/atomic"
)

// ErrSeriesLimit is returned by SeriesTable.Intern when the table is full.
var ErrSeriesLimit = errors.New("record: series limit reached")

// SeriesTable interns series keys into dense ids 0..Max-1. It never grows
// past its bound: a key that would exceed it is refused and counted.
//
// It is safe for concurrent use. Lookups of known keys take a read lock and
// do not allocate; only the first sight of a key allocates its string.
type SeriesTable struct {
	mu      sync.RWMutex
	ids     map[string]uint32
	keys    []string
	max     int
	refused atomic.Uint64
}

// NewSeriesTable returns a table that holds at most max keys.
func NewSeriesTable(max int) *SeriesTable {
	if max <= 0 {
		max = 1
	}
	hint := max
	if hint > 4096 {
		hint = 4096
	}
	return &SeriesTable{ids: make(map[string]uint32, hint), keys: make([]string, 0, hint), max: max}
}

// Intern returns the id of key, adding it if it is new. key is not retained.
// When the table is full and key is new, it returns ErrSeriesLimit and
// counts the refusal.
func (t *SeriesTable) Intern(key []byte) (uint32, error) {
	t.mu.RLock()
	id, ok := t.ids[string(key)]
	t.mu.RUnlock()
	if ok {
		return id, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if id, ok := t.ids[string(key)]; ok {
		return id, nil
	}
	if len(t.keys) >= t.max {
		t.refused.Add(1)
		return 0, ErrSeriesLimit
	}
	s := string(key)
	id = uint32(len(t.keys))
	t.keys = append(t.keys, s)
	t.ids[s] = id
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
