package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/edgeplane/edgeplane/internal/disk"
)

// withFree makes data_dir's filesystem report free bytes for the test.
func withFree(t *testing.T, free uint64) {
	t.Helper()
	prev := diskSpace
	diskSpace = func(string) (disk.Usage, error) { return disk.Usage{Free: free, Total: free, Path: "/small"}, nil }
	t.Cleanup(func() { diskSpace = prev })
}

const budgetBase = `gateway: {id: gw1, data_dir: %DIR%}
kafka: {brokers: ["127.0.0.1:9092"]}
nats: {%NATS%}
sources:
  - name: s1
    dead_letter: %DL%
    mqtt: {broker: "tcp://127.0.0.1:1883", topics: ["city/#"]}
    decode: {time_path: ts, fields: [{name: v}]}
pipelines:
  - {name: p1, from: [s1], window: {size: 10s}}
`

func loadBudget(t *testing.T, nats string, deadLetter bool) (*Config, error) {
	t.Helper()
	dl := "false"
	if deadLetter {
		dl = "true"
	}
	src := strings.NewReplacer("%DIR%", t.TempDir(), "%NATS%", nats, "%DL%", dl).Replace(budgetBase)
	return LoadBytes("budget.yaml", []byte(src), nil)
}

func TestBufferMaxBytesFor(t *testing.T) {
	f := func(limit int64, dl bool, want int64) {
		t.Helper()
		if got := BufferMaxBytesFor(limit, dl); got != want {
			t.Errorf("BufferMaxBytesFor(%d, %v) = %d, want %d", limit, dl, got, want)
		}
	}
	f(100<<30, false, DefaultBufferMaxBytes) // large disk: 1 GiB
	f(6<<20, false, 4<<20)                   // 8 MiB tmpfs: 75% = 6 MiB, 80% of it = 4.8, a MiB multiple: 4 MiB
	f(6<<20, true, 1<<20)                    // the dead letters do not fit: the floor, validate says why
	f(164<<20, true, 80<<20)                 // (164 − 64) × 0.8
	f(0, false, 1<<20)
}

// TestDiskBudget: on an 8 MiB filesystem (injected), the default
// max_bytes fits and validate passes; a 1 GiB max_bytes, or the
// dead-letter stream's 64 MiB, is reported with the arithmetic.
func TestDiskBudget(t *testing.T) {
	withFree(t, 8<<20)
	c, err := loadBudget(t, "", false)
	if err != nil {
		t.Fatalf("default max_bytes on 8 MiB: %v", err)
	}
	if c.NATS.Buffer.MaxBytes != 4<<20 || !c.BufferMaxBytesDerived() {
		t.Fatalf("default max_bytes on 8 MiB: %d (derived %v), want 4 MiB", c.NATS.Buffer.MaxBytes, c.BufferMaxBytesDerived())
	}
	if c, err := loadBudget(t, "buffer: {max_bytes: 4MiB}", false); err != nil || c.BufferMaxBytesDerived() {
		t.Fatalf("4 MiB on 8 MiB: %v", err)
	}
	f := func(nats string, dl bool, wantPath string, wantMsg ...string) {
		t.Helper()
		_, err := loadBudget(t, nats, dl)
		var ce *Error
		if !errors.As(err, &ce) {
			t.Fatalf("%s (dead letters %v): want a config error, got %v", nats, dl, err)
		}
		for _, p := range ce.Problems {
			if p.Path != wantPath {
				continue
			}
			for _, m := range wantMsg {
				if !strings.Contains(p.Msg, m) {
					t.Errorf("%s: message %q lacks %q", nats, p.Msg, m)
				}
			}
			t.Logf("%s:%d: %s: %s", p.File, p.Line, p.Path, p.Msg)
			return
		}
		t.Fatalf("%s: no problem at %s: %v", nats, wantPath, err)
	}
	f("buffer: {max_bytes: 1GiB}", false, "nats.buffer.max_bytes",
		"buffer.max_bytes 1.0 GiB exceeds JetStream's storage limit of 6.0 MiB (75% of the 8.0 MiB free on /small)",
		"at most 6.0 MiB or free space on /small")
	f("buffer: {max_bytes: 4MiB}", true, "nats.buffer.max_bytes",
		"buffer.max_bytes 4.0 MiB + the dead-letter stream's 64.0 MiB (a source has dead_letter on) = 68.0 MiB exceeds", "free space")
	f("", true, "gateway.data_dir", "dead-letter stream's 64.0 MiB", "turn dead_letter off or free space on /small")
	f("max_store: 2MiB, buffer: {max_bytes: 4MiB}", false, "nats.buffer.max_bytes", "storage limit of 2.0 MiB (nats.max_store)",
		"at most 2.0 MiB or raise nats.max_store")
}
