package record

import (
	"encoding/binary"
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"unsafe"
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
//
// A key of up to 24 bytes is held in its slot, so finding it reads no
// memory outside the index. A longer key's slot says where its bytes are
// in an arena the table only ever appends to: one more read.
type SeriesTable struct {
	idx  atomic.Pointer[seriesIndex]
	long keyArena
	seed maphash.Seed

	mu      sync.RWMutex // writers; Key and Len read keys under it
	keys    []string     // by id; a longer key's string is the arena's copy
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

// inlineKey is the longest key a slot holds itself.
const inlineKey = 24

// seriesSlot is 32 bytes and holds no pointers. Slot arrays are 64-byte
// aligned (see newSeriesIndex), so a slot never straddles a cache line.
//
// A slot is published by storing tag (never 0) after everything else; a
// reader that loads a non-zero tag may read the rest, which is never
// written again while the slot is reachable.
type seriesSlot struct {
	tag  atomic.Uint32   // 0 for an empty slot, else seriesTag(hash, len(key))
	id   uint32          // the key's id
	head [inlineKey]byte // the key, zero-padded; for a longer key, its keyArena ref
}

// seriesTag folds the high 24 bits of a key's hash and a code for its
// length (1+len for inline keys, 255 for longer ones) into a slot tag. It
// is never 0. The low hash bits pick the slot, so the tag's hash bits are
// independent of where the slot is.
func seriesTag(h uint64, n int) uint32 {
	code := uint32(255)
	if n <= inlineKey {
		code = uint32(n) + 1
	}
	return uint32(h>>32)&^0xff | code
}

// keyArena holds the bytes of keys longer than inlineKey, appended to
// chunks that it never writes again below their fill mark.
type keyArena struct {
	chunks atomic.Pointer[[][]byte] // published with len 0; readers slice up to cap
	tail   []byte                   // the last chunk, filled to len; writers only
}

// Chunks of a keyArena double in size from minChunk to maxChunk; a longer
// key gets a chunk of its own size.
const (
	minChunk = 4 << 10
	maxChunk = 1 << 20
)

// add appends key; writers only. It returns ref, where the key is, for a
// slot's head (the key's length in 8 bytes, then its chunk's index and its
// offset there in 4 bytes each, little-endian), and the arena's copy of
// key, whose bytes are never written again.
func (a *keyArena) add(key []byte) (ref [inlineKey]byte, s string) {
	if cap(a.tail)-len(a.tail) < len(key) {
		a.tail = make([]byte, 0, max(len(key), min(max(2*cap(a.tail), minChunk), maxChunk)))
		var cs [][]byte
		if p := a.chunks.Load(); p != nil {
			cs = *p
		}
		// Appending in place is safe: readers of the old list never read
		// past its length.
		cs = append(cs, a.tail)
		a.chunks.Store(&cs)
	}
	off := len(a.tail)
	a.tail = append(a.tail, key...)
	binary.LittleEndian.PutUint64(ref[0:], uint64(len(key)))
	binary.LittleEndian.PutUint32(ref[8:], uint32(len(*a.chunks.Load())-1))
	binary.LittleEndian.PutUint32(ref[12:], uint32(off))
	return ref, unsafe.String(&a.tail[off], len(key))
}

// holds reports whether the key at ref is key. ref is from a slot whose
// tag the caller loaded, so its chunk is in the list it loads.
func (a *keyArena) holds(ref *[inlineKey]byte, key []byte) bool {
	c := (*a.chunks.Load())[binary.LittleEndian.Uint32(ref[8:])]
	off := uint64(binary.LittleEndian.Uint32(ref[12:]))
	return string(c[off:off+binary.LittleEndian.Uint64(ref[0:])]) == string(key)
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

// newSeriesIndex returns an empty index of n slots, n a power of two. The
// slot array is at least 32 KiB, which Go's allocator places on a page
// boundary, so its slots are cache-line aligned
// (TestSeriesSlotsAreAligned checks this).
func newSeriesIndex(n int) *seriesIndex {
	return &seriesIndex{slots: make([]seriesSlot, n), mask: uint64(n - 1)}
}

// hash returns key's hash. The low bits pick key's first slot.
func (t *SeriesTable) hash(key []byte) uint64 {
	return maphash.Bytes(t.seed, key)
}

// find returns key's id in x; tag is seriesTag(h, len(key)).
func (t *SeriesTable) find(x *seriesIndex, h uint64, tag uint32, key []byte) (uint32, bool) {
	if len(key) <= inlineKey {
		return x.findInline(h, tag, key)
	}
	return t.findLong(x, h, tag, key)
}

// findInline is find for a key of at most inlineKey bytes, small enough
// for the compiler to inline.
func (x *seriesIndex) findInline(h uint64, tag uint32, key []byte) (uint32, bool) {
	for i := h & x.mask; ; i = (i + 1) & x.mask {
		s := &x.slots[i]
		switch st := s.tag.Load(); {
		case st == 0:
			return 0, false
		case st == tag && string(s.head[:len(key)]) == string(key):
			return s.id, true
		}
	}
}

// findLong is find for a key longer than inlineKey.
func (t *SeriesTable) findLong(x *seriesIndex, h uint64, tag uint32, key []byte) (uint32, bool) {
	for i := h & x.mask; ; i = (i + 1) & x.mask {
		s := &x.slots[i]
		switch st := s.tag.Load(); {
		case st == 0:
			return 0, false
		case st == tag && t.long.holds(&s.head, key):
			return s.id, true
		}
	}
}

// insert publishes a slot for a key known to be absent; writers only,
// with room ensured.
func (x *seriesIndex) insert(h uint64, tag, id uint32, head *[inlineKey]byte) {
	i := h & x.mask
	for x.slots[i].tag.Load() != 0 {
		i = (i + 1) & x.mask
	}
	s := &x.slots[i]
	s.id, s.head = id, *head
	s.tag.Store(tag) // publish after writing
	x.used++
}

// Intern returns the id of key, adding it if it is new. key is not retained.
// When the table is full and key is new, it returns ErrSeriesLimit and
// counts the refusal.
func (t *SeriesTable) Intern(key []byte) (uint32, error) {
	h := t.hash(key)
	tag := seriesTag(h, len(key))
	x := t.idx.Load()
	if len(key) <= inlineKey { // findInline is inlined here
		if id, ok := x.findInline(h, tag, key); ok {
			return id, nil
		}
	} else if id, ok := t.findLong(x, h, tag, key); ok {
		return id, nil
	}
	return t.add(h, tag, key)
}

// add is Intern for a key not in the index Intern loaded: it may have been
// added since, or be new.
func (t *SeriesTable) add(h uint64, tag uint32, key []byte) (uint32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	x := t.idx.Load()
	if id, ok := t.find(x, h, tag, key); ok {
		return id, nil
	}
	if len(t.keys) >= t.max {
		t.refused.Add(1)
		return 0, ErrSeriesLimit
	}
	if 2*(x.used+1) > len(x.slots) {
		// Grow: build the larger index completely, then publish it. A
		// slot keeps too little of its key's hash to place it again, so
		// the key is hashed again.
		nx := newSeriesIndex(2 * len(x.slots))
		for i := range x.slots {
			if s := &x.slots[i]; s.tag.Load() != 0 {
				nx.insert(maphash.String(t.seed, t.keys[s.id]), s.tag.Load(), s.id, &s.head)
			}
		}
		t.idx.Store(nx)
		x = nx
	}
	var head [inlineKey]byte
	var s string
	if len(key) <= inlineKey {
		copy(head[:], key)
		s = string(key)
	} else {
		head, s = t.long.add(key)
	}
	id := uint32(len(t.keys))
	t.keys = append(t.keys, s)
	x.insert(h, tag, id, &head)
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

// Keys returns the interned keys by id. The table only appends, so the
// slice stays valid (and unchanged) while the table grows; do not modify it.
func (t *SeriesTable) Keys() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.keys[:len(t.keys):len(t.keys)]
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
