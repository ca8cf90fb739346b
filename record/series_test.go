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
