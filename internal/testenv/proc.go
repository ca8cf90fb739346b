package testenv

import (
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
)

// ProcStatusBytes returns the kB figure of key ("VmRSS:", "VmSize:", …)
// in /proc/self/status, in bytes. Without /proc (not Linux) the test is
// skipped; a missing or unreadable figure fails it.
func ProcStatusBytes(t testing.TB, key string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", key)
	return 0
}

// HeapObjectBytes returns the bytes of the Go heap's objects, live or not
// yet swept (runtime/metrics /memory/classes/heap/objects:bytes).
func HeapObjectBytes() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}
