package record

import (
	"errors"
	"fmt"
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
	const n, workers = 20000, 4
	st := NewSeriesTable(n)
	key := func(i int) []byte { return fmt.Appendf(nil, "city/d%d/air/s-%d", i%9, i) }
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
				j := i % len(seed)
				if id, err := st.Intern(key(j)); err != nil || id != seed[j] {
					t.Errorf("key %d: id %d (%v) while growing, first %d", j, id, err, seed[j])
					return
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
