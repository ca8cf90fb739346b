package pipeline

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/edgeplane/edgeplane/decode"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/record"
)

// TestReceiversPushThroughOwnLanes: two receivers (two Batches) each get
// exclusive ring lanes, their readings all reach the shard, and handles of
// a stopped pipeline are dropped when the receiver next meets a new one.
func TestReceiversPushThroughOwnLanes(t *testing.T) {
	cfg, err := config.LoadBytes("t.yaml", []byte(hotCfg), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := newPipe(mustCompile(t, cfg).Pipelines[0], log)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := decode.NewDecoder(&mustCompile(t, cfg).Sources[0].Decode)
	if err != nil {
		t.Fatal(err)
	}
	topics, payloads := hotInput(20)
	var a, b decode.Batch
	for i := range topics {
		bt := &a
		if i%2 == 1 {
			bt = &b
		}
		bt.Reset()
		if r, err := dec.Decode(topics[i], payloads[i], 1763683200123, bt); r != decode.ReasonNone {
			t.Fatal(err)
		}
		p.deliver(context.Background(), 0, bt)
	}
	ha, hb := p.handles(&a.Local).hs, p.handles(&b.Local).hs
	if !ha[0].Exclusive() || !hb[0].Exclusive() || ha[0] == hb[0] {
		t.Fatalf("receivers share a lane or have none: %v %v", ha[0].Exclusive(), hb[0].Exclusive())
	}
	buf := make([]record.Sample, 256)
	got := 0
	for n := p.rings[0].Drain(buf); n > 0; n = p.rings[0].Drain(buf) {
		got += n
	}
	if got != 4*len(topics) {
		t.Fatalf("drained %d samples, want %d", got, 4*len(topics))
	}

	// A reload replaces the pipeline: the receiver's next delivery makes
	// handles for the new one and forgets the stopped one's.
	p.stopped.Store(true)
	p2, err := newPipe(mustCompile(t, cfg).Pipelines[0], log)
	if err != nil {
		t.Fatal(err)
	}
	p2.deliver(context.Background(), 0, &a)
	if ps := a.Local.(*producers); len(ps.entries) != 1 || ps.entries[0].p != p2 {
		t.Fatalf("after the reload the receiver holds %d handle sets", len(ps.entries))
	}
}

// mustCompile compiles a loaded config as pipeline.New does.
func mustCompile(tb testing.TB, cfg *config.Config) *config.Compiled {
	tb.Helper()
	plan, err := config.Compile(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return plan
}
