package ratelog

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time           { return c.t }
func (c *fakeClock) add(d time.Duration)      { c.t = c.t.Add(d) }
func newFake() *fakeClock                     { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }
func textLogger(b *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// lines returns the log's lines without their time attribute.
func lines(b *bytes.Buffer) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		if i := strings.Index(l, " "); strings.HasPrefix(l, "time=") && i > 0 {
			l = l[i+1:]
		}
		out = append(out, l)
	}
	return out
}

// TestOneLinePerInterval: a warning repeated every second for a minute
// writes the first line at once, then one per interval, each with the
// count of the lines dropped since the previous one.
func TestOneLinePerInterval(t *testing.T) {
	var b bytes.Buffer
	c := newFake()
	l := New(textLogger(&b), 30*time.Second).WithClock(c.now)
	for i := range 61 {
		l.Warn("kafka down", "attempt", i)
		c.add(time.Second)
	}
	want := []string{
		`level=WARN msg="kafka down" attempt=0 suppressed=0`,
		`level=WARN msg="kafka down" attempt=30 suppressed=29`,
		`level=WARN msg="kafka down" attempt=60 suppressed=29`,
	}
	if got := lines(&b); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestKeysAreIndependent: each key has its own interval and count; Log
// groups lines by the key it is given, not by the message.
func TestKeysAreIndependent(t *testing.T) {
	var b bytes.Buffer
	c := newFake()
	l := New(textLogger(&b), 10*time.Second).WithClock(c.now)
	l.Warn("a")
	l.Warn("b")
	l.Log(slog.LevelWarn, "r1", "rejected", "reason", "r1")
	l.Log(slog.LevelWarn, "r2", "rejected", "reason", "r2")
	l.Warn("a")
	l.Log(slog.LevelWarn, "r1", "rejected", "reason", "r1")
	l.Log(slog.LevelWarn, "r1", "rejected", "reason", "r1")
	c.add(10 * time.Second)
	l.Error("a")
	l.Log(slog.LevelWarn, "r1", "rejected", "reason", "r1")
	l.Log(slog.LevelWarn, "r2", "rejected", "reason", "r2")
	want := []string{
		`level=WARN msg=a suppressed=0`,
		`level=WARN msg=b suppressed=0`,
		`level=WARN msg=rejected reason=r1 suppressed=0`,
		`level=WARN msg=rejected reason=r2 suppressed=0`,
		`level=ERROR msg=a suppressed=1`,
		`level=WARN msg=rejected reason=r1 suppressed=2`,
		`level=WARN msg=rejected reason=r2 suppressed=0`,
	}
	if got := lines(&b); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestDisabledLevelNotCounted: a line the handler would not write is not
// counted as suppressed.
func TestDisabledLevelNotCounted(t *testing.T) {
	var b bytes.Buffer
	c := newFake()
	l := New(slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelWarn})), time.Second).WithClock(c.now)
	l.Info("x")
	l.Info("x")
	l.Warn("x")
	if got := lines(&b); len(got) != 1 || got[0] != `level=WARN msg=x suppressed=0` {
		t.Fatalf("got %q", got)
	}
}

// TestAllow: the low-level form; a denied call is counted.
func TestAllow(t *testing.T) {
	c := newFake()
	l := New(nil, 5*time.Second).WithClock(c.now)
	if n, ok := l.Allow("k"); !ok || n != 0 {
		t.Fatalf("first: %d %v", n, ok)
	}
	for range 3 {
		c.add(time.Second)
		if _, ok := l.Allow("k"); ok {
			t.Fatal("allowed within the interval")
		}
	}
	c.add(2 * time.Second)
	if n, ok := l.Allow("k"); !ok || n != 3 {
		t.Fatalf("after the interval: %d %v, want 3 true", n, ok)
	}
	if l.Interval() != 5*time.Second {
		t.Fatal(l.Interval())
	}
	if New(nil, 0).Interval() != DefaultInterval {
		t.Fatal("default interval")
	}
}

// TestArgsNotOverwritten: the suppressed attribute is not appended into
// the caller's slice.
func TestArgsNotOverwritten(t *testing.T) {
	var b bytes.Buffer
	l := New(textLogger(&b), time.Second)
	args := make([]any, 2, 4)
	args[0], args[1] = "k", "v"
	l.Warn("m", args...)
	if full := args[:4]; full[2] != nil || full[3] != nil {
		t.Fatalf("caller's array written: %v", full)
	}
}

// TestSynctest: inside a synctest bubble the default clock is fake, so a
// minute of a failing dependency takes no time.
func TestSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b bytes.Buffer
		l := New(textLogger(&b), DefaultInterval)
		for range 120 {
			l.Warn("fetch from buffer failed")
			time.Sleep(500 * time.Millisecond)
		}
		got := lines(&b)
		want := []string{
			`level=WARN msg="fetch from buffer failed" suppressed=0`,
			`level=WARN msg="fetch from buffer failed" suppressed=59`,
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// TestConcurrent: concurrent callers write one line per interval in
// total, and no count is lost.
func TestConcurrent(t *testing.T) {
	l := New(nil, time.Hour)
	var wg sync.WaitGroup
	var allowed sync.Map
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				if _, ok := l.Allow("k"); ok {
					allowed.Store(g, true)
				}
			}
		}()
	}
	wg.Wait()
	n := 0
	allowed.Range(func(any, any) bool { n++; return true })
	if n != 1 {
		t.Fatalf("%d goroutines got a line, want 1", n)
	}
	l.interval = 0
	if s, ok := l.Allow("k"); !ok || s != 7999 {
		t.Fatalf("suppressed %d %v, want 7999", s, ok)
	}
}

// TestAllowAtNoAlloc: deciding to suppress a known key does not allocate.
func TestAllowAtNoAlloc(t *testing.T) {
	l := New(nil, time.Hour)
	l.AllowAt("too_large", 0)
	if a := testing.AllocsPerRun(1000, func() { l.AllowAt("too_large", 1) }); a != 0 {
		t.Fatalf("%v allocations per suppressed call", a)
	}
}
