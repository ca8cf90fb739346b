package record

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

func TestSampleIsSmallAndFlat(t *testing.T) {
	if n := unsafe.Sizeof(Sample{}); n != 32 {
		t.Fatalf("Sample is %d bytes, want 32", n)
	}
}

func TestSeriesTableBound(t *testing.T) {
	st := NewSeriesTable(3)
	f := func(key string, wantID uint32, wantErr error) {
		t.Helper()
		id, err := st.Intern([]byte(key))
		if !errors.Is(err, wantErr) || (err == nil && id != wantID) {
			t.Fatalf("Intern(%q) = %d, %v; want %d, %v", key, id, err, wantID, wantErr)
		}
	}
	f("a", 0, nil)
	f("b", 1, nil)
	f("a", 0, nil)
	f("c", 2, nil)
	f("d", 0, ErrSeriesLimit)
	f("e", 0, ErrSeriesLimit)
	f("b", 1, nil) // known keys still resolve when full
	if st.Refused() != 2 || st.Len() != 3 || st.Key(2) != "c" || st.Key(9) != "" {
		t.Fatalf("refused %d len %d key(2) %q", st.Refused(), st.Len(), st.Key(2))
	}
}

func TestSeriesTableConcurrent(t *testing.T) {
	const keys, workers = 500, 8
	st := NewSeriesTable(keys)
	var wg sync.WaitGroup
	ids := make([][]uint32, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < keys; i++ {
				id, err := st.Intern([]byte(fmt.Sprintf("k%d", i)))
				if err != nil {
					t.Error(err)
					return
				}
				ids[w] = append(ids[w], id)
			}
		}()
	}
	wg.Wait()
	for w := 1; w < workers; w++ {
		for i := range ids[0] {
			if ids[w][i] != ids[0][i] {
				t.Fatalf("worker %d got id %d for k%d, worker 0 got %d", w, ids[w][i], i, ids[0][i])
			}
		}
	}
	if st.Len() != keys {
		t.Fatalf("len %d", st.Len())
	}
}

func TestInternKnownKeyDoesNotAllocate(t *testing.T) {
	st := NewSeriesTable(10)
	key := []byte("city/d7/air/s-123")
	if _, err := st.Intern(key); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = st.Intern(key) }); n != 0 {
		t.Fatalf("Intern of a known key allocates %v times", n)
	}
}

func BenchmarkInternKnown(b *testing.B) {
	st := NewSeriesTable(1 << 16)
	keys := make([][]byte, 1024)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("city/d%d/air/s-%d", i%9, i))
		_, _ = st.Intern(keys[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, _ = st.Intern(keys[i&1023])
	}
}

// TestSeriesTableGrowsUnderReaders: readers resolving known keys while
// writers add enough keys to replace the index several times always get
// the id the key was first given, and every id maps back to its key.
func TestSeriesTableGrowsUnderReaders(t *testing.T) {
	const n = 20000
	st := NewSeriesTable(n)
	growUnderReaders(t, st, n, 100, func(i int) []byte { return fmt.Appendf(nil, "city/d%d/air/s-%d", i%9, i) })
	if _, err := st.Intern([]byte("one too many")); !errors.Is(err, ErrSeriesLimit) {
		t.Fatalf("past the bound: %v", err)
	}
}

// BenchmarkInternKnownParallel: known-key lookups from every core, as the
// sources' receive goroutines do.
func BenchmarkInternKnownParallel(b *testing.B) {
	st := NewSeriesTable(1 << 16)
	keys := make([][]byte, 10000)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "d%d/s-%d", i%9, i)
		_, _ = st.Intern(keys[i])
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			_, _ = st.Intern(keys[i%len(keys)])
			i++
		}
	})
}

// BenchmarkInternKnownRandom: known-key lookups over 10k and 100k series
// in a pseudo-random order, so that most lookups miss the CPU caches, as a
// gateway's traffic from many devices does. The lookup keys lie in one
// buffer in lookup order (reading them is sequential, as reading a fresh
// batch is); the table's own memory is visited at random. Keys are short
// ("d3/s-1234"), 24 bytes ("district-7/sensor-000123") or 40 bytes.
func BenchmarkInternKnownRandom(b *testing.B) {
	shapes := []struct {
		name string
		key  func(i int) string
	}{
		{"short", func(i int) string { return fmt.Sprintf("d%d/s-%d", i%9, i) }},
		{"24B", func(i int) string { return fmt.Sprintf("district-%d/sensor-%06d", i%9, i) }},
		{"40B", func(i int) string { return fmt.Sprintf("gw-01/district-%d/air/sensor-%06d/pm25", i%9, i) }},
	}
	for _, n := range []int{10_000, 100_000} {
		for _, shape := range shapes {
			b.Run(fmt.Sprintf("keys=%d/%s", n, shape.name), func(b *testing.B) {
				st := NewSeriesTable(n)
				for i := range n {
					if _, err := st.Intern([]byte(shape.key(i))); err != nil {
						b.Fatal(err)
					}
				}
				var buf []byte
				keys := make([][]byte, n)
				for j, i := range rand.New(rand.NewPCG(1, 2)).Perm(n) {
					start := len(buf)
					buf = append(buf, shape.key(i)...)
					keys[j] = buf[start:len(buf):len(buf)]
				}
				b.ReportAllocs()
				j := 0
				for b.Loop() {
					_, _ = st.Intern(keys[j])
					if j++; j == n {
						j = 0
					}
				}
			})
		}
	}
}

// TestSeriesSlotsAreAligned: a slot is a divisor of a cache line and every
// index size starts on one, so no slot straddles two lines.
func TestSeriesSlotsAreAligned(t *testing.T) {
	size := unsafe.Sizeof(seriesSlot{})
	if size != 32 {
		t.Fatalf("seriesSlot is %d bytes, want 32", size)
	}
	for n := minIndexSlots; n <= minIndexSlots<<8; n *= 2 {
		x := newSeriesIndex(n)
		if p := uintptr(unsafe.Pointer(&x.slots[0])); p%64 != 0 {
			t.Fatalf("index of %d slots starts at %#x, not on a 64-byte line", n, p)
		}
	}
}

// boundaryKeys returns distinct keys around the inline limit: empty, one
// byte, inlineKey-1, inlineKey, inlineKey+1 and longer, including keys
// longer than an arena chunk, and keys that share a prefix: differing
// only in their last byte, only in the first byte past the inline limit,
// or one a prefix of another (with and without trailing zero bytes).
func boundaryKeys() []string {
	base := strings.Repeat("district-7/sensor-000123/", 250) // 6250 bytes
	keys := []string{"", "\x00", "\x00\x00", "a", "a\x00"}
	for _, n := range []int{2, inlineKey - 1, inlineKey, inlineKey + 1, inlineKey + 2, 2 * inlineKey, 255, 256, minChunk + 1, len(base)} {
		k := base[:n]
		keys = append(keys,
			k,
			k[:n-1]+"#",    // differs in the last byte
			k+"\x00",       // k followed by a zero byte
			k[:n-1]+"\x00", // k with a zero last byte
		)
		if n > inlineKey {
			keys = append(keys, k[:inlineKey]+"#"+k[inlineKey+1:]) // differs just past the inline bytes
		}
	}
	seen := make(map[string]bool)
	return slices.DeleteFunc(keys, func(k string) bool {
		dup := seen[k]
		seen[k] = true
		return dup
	})
}

func TestSeriesTableInlineBoundary(t *testing.T) {
	keys := boundaryKeys()
	st := NewSeriesTable(len(keys))
	for i, k := range keys {
		if id, err := st.Intern([]byte(k)); err != nil || id != uint32(i) {
			t.Fatalf("first Intern of key %d (len %d) = %d, %v", i, len(k), id, err)
		}
	}
	for i, k := range keys {
		// A fresh copy: the table must compare bytes, not addresses.
		if id, err := st.Intern([]byte(k)); err != nil || id != uint32(i) {
			t.Fatalf("Intern of known key %d (len %d) = %d, %v", i, len(k), id, err)
		}
		if st.Key(uint32(i)) != k {
			t.Fatalf("Key(%d) has len %d, want key of len %d", i, len(st.Key(uint32(i))), len(k))
		}
	}
	if id, err := st.Intern(nil); err != nil || id != 0 {
		t.Fatalf("nil key = %d, %v; want the empty key's id 0", id, err)
	}
	if st.Len() != len(keys) {
		t.Fatalf("len %d, want %d", st.Len(), len(keys))
	}
	if _, err := st.Intern([]byte(keys[len(keys)-1] + "!")); !errors.Is(err, ErrSeriesLimit) || st.Refused() != 1 {
		t.Fatalf("long key past the bound: %v, refused %d", err, st.Refused())
	}
	bs := make([][]byte, len(keys))
	for i, k := range keys {
		bs[i] = []byte(k)
	}
	if n := testing.AllocsPerRun(100, func() {
		for _, b := range bs {
			_, _ = st.Intern(b)
		}
	}); n != 0 {
		t.Fatalf("Intern of known inline and long keys allocates %v times", n)
	}
}

// TestSeriesIndexSameTag: keys whose hashes and lengths agree, and so
// their slots' tags, are told apart by their bytes, inline or not.
func TestSeriesIndexSameTag(t *testing.T) {
	st := NewSeriesTable(10)
	x := st.idx.Load()
	const h = 0xfeed_0000_0000_0005 // every key in the same first slot
	long := strings.Repeat("x", 2*inlineKey)
	keys := []string{
		"d3/s-1234", "d3/s-1235", strings.Repeat("y", inlineKey-1) + "1", strings.Repeat("y", inlineKey-1) + "2",
		long + "1", long + "2", long + "12", // the last: same tag, another length
	}
	for i, k := range keys {
		var head [inlineKey]byte
		if len(k) <= inlineKey {
			copy(head[:], k)
		} else {
			head, _ = st.long.add([]byte(k))
		}
		x.insert(h, seriesTag(h, len(k)), uint32(i), &head)
	}
	for i, k := range keys {
		if id, ok := st.find(x, h, seriesTag(h, len(k)), []byte(k)); !ok || id != uint32(i) {
			t.Fatalf("find %q = %d, %v; want %d", k, id, ok, i)
		}
	}
	for _, k := range []string{
		"d3/s-1236", "d3/s-123", "d3/s-1234\x00", // differs; a prefix; zero-padded
		strings.Repeat("y", inlineKey-1) + "3", long + "3", long + "21", long, long + "1\x00",
	} {
		if id, ok := st.find(x, h, seriesTag(h, len(k)), []byte(k)); ok {
			t.Fatalf("find %q = %d, never added", k, id)
		}
	}
}

// TestSeriesTableGrowsUnderReadersMixedLengths is
// TestSeriesTableGrowsUnderReaders with keys of lengths around the inline
// limit and past it, so that readers compare inline and arena keys while
// the index is replaced and the arena gains chunks.
func TestSeriesTableGrowsUnderReadersMixedLengths(t *testing.T) {
	const n = 20000
	lens := []int{6, inlineKey - 1, inlineKey, inlineKey + 1, 3 * inlineKey}
	key := func(i int) []byte {
		d := strconv.Itoa(i) // at most 5 digits: keys of one length differ
		return []byte(strings.Repeat("s", lens[i%len(lens)]-len(d)) + d)
	}
	growUnderReaders(t, NewSeriesTable(n), n, 37, key)
}

// growUnderReaders interns keys 0..n-1 of st (which holds n) from four
// goroutines, each also resolving known keys (every stride-th of the
// first hundred, from its own position) while the index is replaced
// under it: they must keep the id first given. Then every key must have
// a distinct id that maps back to it.
func growUnderReaders(t *testing.T, st *SeriesTable, n, stride int, key func(int) []byte) {
	t.Helper()
	const workers = 4
	seed := make([]uint32, 100)
	for i := range seed {
		seed[i], _ = st.Intern(key(i))
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if _, err := st.Intern(key(i)); err != nil {
					t.Error(err)
					return
				}
				for j := i % len(seed); j < len(seed); j += stride {
					if id, err := st.Intern(key(j)); err != nil || id != seed[j] {
						t.Errorf("key %d: id %d (%v) while growing, first %d", j, id, err, seed[j])
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if st.Len() != n {
		t.Fatalf("len %d, want %d", st.Len(), n)
	}
	seen := make(map[uint32]bool, n)
	for i := range n {
		id, err := st.Intern(key(i))
		if err != nil || seen[id] || st.Key(id) != string(key(i)) {
			t.Fatalf("key %d: id %d err %v dup %v key(id) %q", i, id, err, seen[id], st.Key(id))
		}
		seen[id] = true
	}
}
