package operators

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/record"
)

// residencyChild is the environment variable that makes
// TestShardResidentFollowsSeries run its measurement in this process.
const residencyChild = "EDGEPLANE_OPERATORS_RESIDENCY_CHILD"

type residency struct {
	Virtual           int64 // StateMemory().Total(): what the shard allocated
	AfterNew, After1k int64 // resident growth (bytes) after NewShard, after 1,000 series
}

// TestShardResidentFollowsSeries: a shard sized for 100,000 series (about
// 300 MB of allocated state, per Config.StateMemory) adds only a
// few MB to the resident set until series arrive, and its resident state
// then grows with the series seen. It measures VmRSS in a child process,
// whose heap has never been reused: a reused span is zeroed by the Go
// runtime, which makes it resident whatever the shard does.
func TestShardResidentFollowsSeries(t *testing.T) {
	if os.Getenv(residencyChild) == "1" {
		residencyMeasure(t)
		return
	}
	if raceEnabled {
		t.Skip("the race detector's shadow memory follows the heap's pages: measured without -race")
	}
	if testing.Short() {
		t.Skip("measures the resident set of a child process (not under -short: qemu-user runs the short tests)")
	}
	if strconv.IntSize == 32 {
		t.Skip("300 MB of address space is too much to ask of a 32-bit process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestShardResidentFollowsSeries$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), residencyChild+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var r residency
	found := false
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if _, js, ok := strings.Cut(sc.Text(), "RESIDENCY "); ok {
			if err := json.Unmarshal([]byte(js), &r); err != nil {
				t.Fatal(err)
			}
			found = true
		}
	}
	if !found {
		t.Fatalf("child printed no measurement:\n%s", out)
	}
	t.Logf("allocated %d MiB; resident +%.1f MiB after NewShard, +%.1f MiB after 1,000 series",
		r.Virtual>>20, float64(r.AfterNew)/(1<<20), float64(r.After1k)/(1<<20))
	if r.Virtual < 200<<20 {
		t.Fatalf("the shard allocates %d MiB: the test needs a large one", r.Virtual>>20)
	}
	// Before this change NewShard wrote every key, slot and timer: the
	// whole allocation was resident at once.
	if r.AfterNew > 8<<20 {
		t.Errorf("NewShard made %.1f MiB resident of %d MiB allocated; want the untouched state out of the resident set", float64(r.AfterNew)/(1<<20), r.Virtual>>20)
	}
	if r.After1k > 16<<20 {
		t.Errorf("1,000 series made %.1f MiB resident; want it to follow the series seen", float64(r.After1k)/(1<<20))
	}
}

func residencyMeasure(t *testing.T) {
	c := Config{Kind: record.Hopping, Size: 60_000, Advance: 10_000, OutOfOrder: 5_000, MaxSeries: 100_000, Fields: 2,
		Aggregates: Count | Sum | Min | Max, Dedup: true, Deadbands: []Deadband{{Field: AllFields, Threshold: 0.1}},
		Watermark: SeriesScope, IdleTimeout: 60_000}
	r := residency{Virtual: c.StateMemory().Total()}
	rss0 := testenv.ProcStatusBytes(t, "VmRSS:")
	sh, err := NewShard(&c, NewWatermarks(&c), &countEmitter{})
	if err != nil {
		t.Fatal(err)
	}
	r.AfterNew = testenv.ProcStatusBytes(t, "VmRSS:") - rss0
	batch := make([]record.Sample, 0, 2000)
	for ser := range uint32(1000) {
		for f := range uint16(2) {
			batch = append(batch, record.Sample{Series: ser, Field: f, Time: 1_000, Value: float64(ser)})
		}
	}
	sh.Process(batch, 2_000)
	r.After1k = testenv.ProcStatusBytes(t, "VmRSS:") - rss0
	b, _ := json.Marshal(r)
	t.Logf("RESIDENCY %s", b)
}

// TestShardStateOffHeap: a shard's state is outside the Go heap, so the
// collector's heap goal does not grow by it, and the memory goes back to
// the system once the shard is unreachable.
func TestShardStateOffHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the address space (not under -short: qemu-user runs the short tests)")
	}
	if strconv.IntSize == 32 {
		t.Skip("300 MB of address space is too much to ask of a 32-bit process")
	}
	c := Config{Kind: record.Tumbling, Size: 60_000, OutOfOrder: 5_000, MaxSeries: 100_000, Fields: 4,
		Aggregates: Count | Sum | Min | Max, Watermark: SeriesScope, IdleTimeout: 60_000}
	virtual := c.StateMemory().Total()
	// Shards of earlier tests unmap their state in cleanups that run
	// after a collection, on their own goroutine: wait until the address
	// space holds still for five samples (100 ms), or their unmapping
	// hides this shard's mapping.
	last, still := int64(-1), 0
	testenv.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		runtime.GC()
		vm := testenv.ProcStatusBytes(t, "VmSize:")
		if vm != last {
			last, still = vm, 0
		}
		if still++; still < 5 {
			return fmt.Errorf("address space still moving: %d MiB", vm>>20)
		}
		return nil
	})
	heap0, vm0 := testenv.HeapObjectBytes(), testenv.ProcStatusBytes(t, "VmSize:")
	sh, err := NewShard(&c, NewWatermarks(&c), &countEmitter{})
	if err != nil {
		t.Fatal(err)
	}
	if grew := testenv.HeapObjectBytes() - heap0; grew > virtual/20 {
		t.Errorf("the Go heap grew by %d MiB for %d MiB of shard state; want it off the heap", grew>>20, virtual>>20)
	}
	if grew := testenv.ProcStatusBytes(t, "VmSize:") - vm0; grew < virtual*9/10 {
		t.Errorf("address space grew by %d MiB, want the state's %d MiB", grew>>20, virtual>>20)
	}
	sh.Process([]record.Sample{{Series: 99_999, Field: 3, Time: 1_000, Value: 1}}, 2_000)
	runtime.KeepAlive(sh)
	sh = nil
	// The cleanup runs after a collection finds the shard unreachable.
	testenv.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		runtime.GC()
		if grew := testenv.ProcStatusBytes(t, "VmSize:") - vm0; grew >= virtual/4 {
			return fmt.Errorf("address space still %d MiB larger after the shard became unreachable", grew>>20)
		}
		return nil
	})
}

// Keys are taken in order of first use, one per (series, field) pair a
// sample brings: a series of one sensor type holds keys for its own
// fields only, and aggregates still carry their series and field.
func TestKeysFollowPairsSeen(t *testing.T) {
	for _, kind := range []record.WindowKind{record.Tumbling, record.Session} {
		c := Config{Kind: kind, Size: 10, Gap: 10, MaxSeries: 100, Fields: 11, Aggregates: Count | Sum}
		sh, rec := newTestShard(t, c)
		pairs := [][2]uint32{{7, 2}, {99, 10}, {0, 0}, {7, 3}}
		var b []record.Sample
		for i, p := range pairs {
			b = append(b, record.Sample{Series: p[0], Field: uint16(p[1]), Time: 1, Value: float64(i + 1), Seq: uint64(i)})
		}
		b = append(b, record.Sample{Series: 7, Field: 2, Time: 2, Value: 10, Seq: 9}) // a key in use
		sh.Process(b, 0)
		if sh.readyKeys() != len(pairs) {
			t.Fatalf("%v: %d keys in use for %d pairs", kind, sh.readyKeys(), len(pairs))
		}
		if n := sh.OpenSlots(7); n != 2 {
			t.Fatalf("%v: series 7 holds %d slots, want 2 (fields 2 and 3)", kind, n)
		}
		var fields []uint16
		sh.OpenWindows(99, func(a *record.Aggregate) { fields = append(fields, a.Field) })
		if len(fields) != 1 || fields[0] != 10 {
			t.Fatalf("%v: open windows of series 99: fields %v, want [10]", kind, fields)
		}
		if sh.OpenSlots(50) != 0 || sh.keyOf(50, 0) != -1 {
			t.Fatalf("%v: series 50, never seen, has state", kind)
		}
		sh.Flush()
		got := map[[2]uint32]float64{}
		for _, a := range rec.aggs {
			got[[2]uint32{a.Series, uint32(a.Field)}] = a.Sum
		}
		want := map[[2]uint32]float64{{7, 2}: 11, {99, 10}: 2, {0, 0}: 3, {7, 3}: 4}
		if len(got) != len(want) {
			t.Fatalf("%v: aggregates %v, want sums %v", kind, got, want)
		}
		for p, sum := range want {
			if got[p] != sum {
				t.Fatalf("%v: series %d field %d sum %v, want %v (all: %v)", kind, p[0], p[1], got[p], sum, got)
			}
		}
	}
}
