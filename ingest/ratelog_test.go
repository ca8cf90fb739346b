package ingest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/decode"
	"github.com/edgeplane/edgeplane/internal/ratelog"
	"github.com/edgeplane/edgeplane/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// count returns how many lines contain sub.
func (s *syncBuffer) count(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), sub)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMQTTUnreachableLogsOnce: with the broker's port closed, paho dials
// about once a second; the source logs the first failure at once and
// then nothing more within ratelog.DefaultInterval, and Start returns when
// its context ends without blocking longer.
func TestMQTTUnreachableLogsOnce(t *testing.T) {
	logs := startUnreachable(t, false)
	if n := logs.count("mqtt broker unreachable"); n != 1 {
		t.Fatalf("%d unreachable lines in 3.5 s, want 1:\n%s", n, logs.String())
	}
	if n := logs.count("suppressed=0"); n != 1 {
		t.Fatalf("want the line to carry suppressed=0:\n%s", logs.String())
	}
	logs = startUnreachable(t, true)
	if n := logs.count("mqtt broker unreachable"); n < 2 {
		t.Fatalf("%d unreachable lines in 3.5 s with a 0.9 s interval, want ≥ 2 (paho retries every second):\n%s", n, logs.String())
	}
}

// startUnreachable runs an MQTT source against a closed port for 3.5 s
// and returns its log.
func startUnreachable(t *testing.T, shortInterval bool) *syncBuffer {
	t.Helper()
	var logs syncBuffer
	s, err := NewMQTTSource(MQTTOptions{Name: "down", Broker: "tcp://" + testenv.FreeAddr(t), Topics: []string{"a/#"}, ClientID: "ratelog-down",
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}, valueConfig(), func(*decode.Batch) {})
	if err != nil {
		t.Fatal(err)
	}
	if shortInterval {
		// Lines every second show that paho does retry, so the single
		// line of the default interval is the limiter's doing.
		s.rl = ratelog.New(s.core.log, 900*time.Millisecond)
	}
	defer s.Stop(0)
	ctx, cancel := context.WithTimeout(context.Background(), 3500*time.Millisecond)
	defer cancel()
	if err := s.Start(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start: %v, want the deadline", err)
	}
	if s.Connected() {
		t.Fatal("connected to a closed port")
	}
	return &logs
}

// TestRejectLogUsesRatelog: rejections of one reason log one line per
// interval with the count suppressed in between; reasons are independent.
func TestRejectLogUsesRatelog(t *testing.T) {
	var logs syncBuffer
	c := newSourceCore("s", func(*decode.Batch) {}, nil, slog.New(slog.NewTextHandler(&logs, nil)), 10*time.Second, &SourceStats{})
	now := int64(1_700_000_000_000)
	for i := range 25 {
		c.rejected(decode.ReasonTooLarge, "t/1", nil, now+int64(i)*1000, nil)
	}
	c.rejected(decode.ReasonRateLimited, "t/1", nil, now, nil)
	if n := logs.count("reason=too_large"); n != 3 {
		t.Fatalf("%d too_large lines for 25 s, want 3:\n%s", n, logs.String())
	}
	for _, want := range []string{"suppressed=0", "suppressed=9"} {
		if logs.count(want) == 0 {
			t.Fatalf("no %s:\n%s", want, logs.String())
		}
	}
	if n := logs.count("reason=rate_limited"); n != 1 {
		t.Fatalf("%d rate_limited lines, want 1:\n%s", n, logs.String())
	}
}
