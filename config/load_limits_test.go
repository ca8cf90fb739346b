package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/config"
)

// adversarial is a config built to exhaust a loader, and the problem it
// must be refused with.
type adversarial struct {
	name string
	src  string
	line int    // of the problem; 0: any
	msg  string // the problem's message contains it
}

// billionLaughs nests levels anchors of fan aliases each under kafka.brokers,
// where the walk does not look, and makes use (a format with %d for the
// last level) refer to the last.
func billionLaughs(levels, fan int, use string) string {
	var b strings.Builder
	b.WriteString("kafka:\n  brokers:\n  - &a0 [lol]\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "  - &a%d [", i)
		for j := 0; j < fan; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	fmt.Fprintf(&b, use, levels)
	return b.String()
}

// mergeBomb is billionLaughs with merge keys, which the decoder resolves
// by walking the anchored mappings again for every alias.
func mergeBomb(levels, fan int) string {
	var b strings.Builder
	b.WriteString("kafka:\n  brokers:\n  - &a0 {x: lol}\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "  - &a%d {<<: [", i)
		for j := 0; j < fan; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]}\n")
	}
	return b.String()
}

// deepKeys nests depth mappings of long keys over a list of n items: the
// parser builds each item's path of all the keys above it.
func deepKeys(depth, n int) string {
	var b strings.Builder
	for i := 0; i < depth; i++ {
		fmt.Fprintf(&b, "%s%s%d:\n", strings.Repeat(" ", i), strings.Repeat("k", 200), i)
	}
	b.WriteString(strings.Repeat(" ", depth) + "- x\n")
	for i := 1; i < n; i++ {
		b.WriteString(strings.Repeat(" ", depth) + "- x\n")
	}
	return b.String()
}

// manyKeys is a mapping of n keys: the parser's work on it grows with n².
func manyKeys(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "k%d: 1\n", i)
	}
	return b.String()
}

func indentNest(depth int) string {
	var b strings.Builder
	b.WriteString("gateway:\n")
	for i := 1; i <= depth; i++ {
		fmt.Fprintf(&b, "%sa:\n", strings.Repeat(" ", i))
	}
	return b.String()
}

func adversarialInputs() []adversarial {
	const n = 100_000
	return []adversarial{
		{"deep flow nesting", "gateway: " + strings.Repeat("[", n) + strings.Repeat("]", n) + "\n", 1, "levels deep"},
		{"deep flow nesting, few", "gateway: " + strings.Repeat("[", 70) + strings.Repeat("]", 70) + "\n", 1, "levels deep"},
		{"deep flow mappings", "gateway: " + strings.Repeat("{a: ", 5000) + "x" + strings.Repeat("}", 5000) + "\n", 1, "levels deep"},
		{"deep block sequences", "gateway:\n" + strings.Repeat("- ", n) + "x\n", 2, "levels deep"},
		{"deep block mappings", indentNest(1000), 65, "levels deep"},
		{"200k-entry block list", "sources:\n" + strings.Repeat("- 1\n", 2*n), 0, "more than 50000 values"},
		{"200k-entry flow list", "sources: [" + strings.Repeat("1, ", 2*n) + "1]\n", 1, "more than 50000 values"},
		{"alias bomb", billionLaughs(9, 10, "gateway: {id: *a%d}\n"), 0, "alias *a"},
		{"alias bomb as list", billionLaughs(9, 10, "sources: *a%d\n"), 0, "alias *a"},
		{"merge-key bomb", mergeBomb(9, 10), 0, "alias *a"},
		{"long keys over many values", deepKeys(60, 2000), 0, "paths exceed"},
		{"long key", strings.Repeat("k", 100_000) + ": 1\n", 1, "a key of 100000 bytes, more than 256"},
		{"16k-key mapping", manyKeys(16_000), 257, "more than 256 keys"},
		{"flow key", "? [a, b]\n: c\n", 1, "explicit keys"},
		{"tag", "kafka:\n  brokers: !foo x\n", 2, "YAML tags (!foo) are not supported"},
		{"sequence as key", "[a, b]: c\n", 1, "not a sequence or mapping"},
		{"10 MB file", "gateway:\n  id: gw1\n" + strings.Repeat("# padding padding padding padding padding padding padding\n", 10<<20/58), 0, "larger than 1 MiB"},
	}
}

// TestLoadRefusesAdversarialInput loads each input from a file, with Load,
// and from memory, with LoadBytes: either must refuse it with a problem at
// a line, quickly and within a small allocation budget. A running gateway
// re-reads its config on SIGHUP with config.Load (cmd/edgeplane reload),
// so this covers a hostile file sent to a gateway by reload too.
func TestLoadRefusesAdversarialInput(t *testing.T) {
	dir := t.TempDir()
	for _, a := range adversarialInputs() {
		t.Run(a.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(a.name, " ", "_")+".yaml")
			if err := os.WriteFile(path, []byte(a.src), 0o600); err != nil {
				t.Fatal(err)
			}
			data := []byte(a.src)
			for _, load := range []struct {
				name string
				f    func() error
			}{
				{"Load", func() error { _, err := config.Load(path); return err }},
				{"LoadBytes", func() error { _, err := config.LoadBytes(path, data, noEnv); return err }},
			} {
				alloc, took, err := measure(load.f)
				t.Logf("%s: %d bytes in, %.1f MiB allocated, %v: %.200v", load.name, len(data), float64(alloc)/(1<<20), took, err)
				checkRefusal(t, err, path, a)
				if took > 10*time.Second {
					t.Errorf("%s took %v", load.name, took)
				}
				if alloc > 64<<20 {
					t.Errorf("%s allocated %.1f MiB, want < 64 MiB", load.name, float64(alloc)/(1<<20))
				}
			}
		})
	}
}

func checkRefusal(t *testing.T, err error, file string, a adversarial) {
	t.Helper()
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v (%T), want a *config.Error", err, err)
	}
	for _, p := range ce.Problems {
		if p.File == file && p.Line > 0 && (a.line == 0 || p.Line == a.line) && strings.Contains(p.Msg, a.msg) {
			return
		}
	}
	t.Fatalf("no problem at %s:%d containing %q: %.500v", file, a.line, a.msg, err)
}

// measure runs f and returns the bytes it allocated and its duration.
func measure(f func() error) (uint64, time.Duration, error) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	err := f()
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, took, err
}

// fuzzSeeds are FuzzLoad's seeds beyond valid configs: each adversarial
// shape just past its bound, the same shapes just inside, and ${VAR}s,
// which fuzzEnv sets to secrets. The bounds on bytes, values and paths
// need inputs of 100 KiB and more: those are left to
// TestLoadRefusesAdversarialInput, as the fuzzer would spend its time
// minimizing what it derives from them.
func fuzzSeeds() [][]byte {
	var seeds [][]byte
	for _, d := range []int{config.MaxDepth - 1, config.MaxDepth + 1} {
		seeds = append(seeds,
			[]byte("gateway: "+strings.Repeat("[", d)+strings.Repeat("]", d)+"\n"),
			[]byte("gateway: "+strings.Repeat("{a: ", d)+"x"+strings.Repeat("}", d)+"\n"),
			[]byte("gateway:\n"+strings.Repeat("- ", d)+"x\n"),
			[]byte(indentNest(d)))
	}
	for _, s := range []string{
		billionLaughs(3, 10, "gateway: {id: *a%d}\n"),
		billionLaughs(5, 10, "gateway: {id: *a%d}\n"),
		billionLaughs(5, 10, "sources: *a%d\n"),
		mergeBomb(5, 10),
		deepKeys(20, 20),
		strings.Repeat("k", config.MaxKeyBytes+1) + ": 1\n",
		manyKeys(config.MaxMapKeys),
		manyKeys(config.MaxMapKeys + 1),
		"? [a, b]\n: c\n",
		"[a, b]: c\n",
		"kafka:\n  brokers: !foo x\n",
		"a: &x 1\nb: &x [*x, *x]\n",
		"kafka: {brokers: &x [*x]}\n",
		"kafka: {brokers: *x}\nnats: &x {}\n",
		"gateway: {id: ${SECRET}, data_dir: ${S_MULTI:-x}}\nkafka: {brokers: [\"${SB}\"]}\n",
		"pipelines:\n- name: p\n  max_series: ${SECRET}\n  window: {size: \"${S2}\"}\n",
		"gateway:\n  id: gw1\n---\ngateway:\n  id: gw2\n",
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// fuzzEnv sets every variable whose name starts with S to a secret.
func fuzzEnv(name string) (string, bool) {
	if strings.HasPrefix(name, "S") {
		return "S3CRET-" + name + `-"x\y` + "\n  z", true
	}
	return "", false
}

// loadBounded loads data as FuzzLoad does and checks what the bounds
// promise: an error or a config, within a time and an allocation
// proportionate to what a config may hold (the worst input inside the
// bounds allocates about 90 MiB), and no secret in a problem.
func loadBounded(t *testing.T, data []byte) {
	var c *config.Config
	var err error
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	c, err = config.LoadBytes("fuzz.yaml", data, fuzzEnv)
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if err == nil && c == nil {
		t.Fatal("nil config without error")
	}
	if err != nil && c != nil {
		t.Fatal("config with error")
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<20 {
		t.Fatalf("loading %d bytes allocated %d MiB", len(data), alloc>>20)
	}
	if took > 10*time.Second {
		t.Fatalf("loading %d bytes took %v", len(data), took)
	}
	if err != nil && strings.Contains(err.Error(), "the YAML library failed") {
		t.Fatalf("the YAML library panicked:\n%v", err)
	}
	if err != nil && strings.Contains(err.Error(), "S3CRET") && !strings.Contains(string(data), "S3CRET") {
		t.Fatalf("a problem prints a secret:\n%v", err)
	}
}

// TestManyProblemsBounded: a file of thousands of mistakes, each holding a
// secret, is reported in its first maxProblems (100) problems and a count
// of the others, quickly, and with no secret.
func TestManyProblemsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("sources:\n")
	for j := 0; j < 30; j++ {
		for i := 0; i < 200; i++ {
			lead := "  "
			if i == 0 {
				lead = "- "
			}
			fmt.Fprintf(&b, "%s${S%d}x%d: 1\n", lead, i%7, i)
		}
	}
	b.WriteString("pipelines:\n")
	for j := 0; j < 10; j++ {
		b.WriteString("- {")
		for i := 0; i < 200; i++ {
			fmt.Fprintf(&b, "${S}y%d: 1, ", i)
		}
		b.WriteString("}\n")
	}
	env := func(k string) (string, bool) { return "S3CRET-" + k, true }
	var err error
	alloc, took, _ := measure(func() error { _, err = config.LoadBytes("many.yaml", []byte(b.String()), env); return err })
	t.Logf("%d bytes: %.1f MiB allocated, %v", b.Len(), float64(alloc)/(1<<20), took)
	var ce *config.Error
	// Unknown keys do not stop validation, so the rest of the file adds
	// its own problems to the 8000 unknown keys.
	var more int
	if !errors.As(err, &ce) || len(ce.Problems) != 101 {
		t.Fatalf("problems: %.300v", err)
	}
	if _, e := fmt.Sscanf(ce.Problems[100].String(), "many.yaml: and %d more problems", &more); e != nil || more < 7900 {
		t.Fatalf("problems: %.300v", err)
	}
	if strings.Contains(err.Error(), "S3CRET") {
		t.Fatalf("a problem prints a secret: %.300v", err)
	}
	if took > 10*time.Second || alloc > 64<<20 {
		t.Fatalf("took %v and %.1f MiB", took, float64(alloc)/(1<<20))
	}
}
