package pipeline_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/internal/testenv"
)

// TestStalledShardKeepsSeriesTime: per-series time is judged by what
// arrived, not by when a shard got to it. The disk fills for 3 s, so the
// shards wait on the buffer store with readings piling up in their rings
// (and, push_back, behind them); idle_timeout is 1 s. The sensors never
// stopped, so when space returns no series may be taken as idle and none
// of the waiting readings may count as late. Judged at processing time
// (before operators.Shard.ArrivedThrough) 1,491 of them did.
func TestStalledShardKeepsSeriesTime(t *testing.T) {
	text := strings.Replace(diskFullConfig, "out_of_orderness: 0s}", "out_of_orderness: 0s, idle_timeout: 1s}", 1)
	if text == diskFullConfig {
		t.Fatal("config not changed")
	}
	r := newDiskRigWith(t, text, "push_back")
	const late = `edgeplane_operators_late_events_total{pipeline="air1"}`
	filler := r.fillUntilFailed()
	// The shards wait on the failed store, their rings fill and ingest
	// backs up (push_back). Stay so for three idle timeouts.
	since := time.Now()
	testenv.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		if d := time.Since(since); d < 3*time.Second {
			return fmt.Errorf("stalled for %s", d)
		}
		return nil
	})
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	after := r.g.Snapshot()
	testenv.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		if s := r.g.Snapshot(); s.AggregatesBuffered < after.AggregatesBuffered+100 || s.WindowsFired < after.WindowsFired+100 {
			return fmt.Errorf("windows fired %d → %d, aggregates buffered %d → %d", after.WindowsFired, s.WindowsFired,
				after.AggregatesBuffered, s.AggregatesBuffered)
		}
		return nil
	})
	s := r.g.Snapshot()
	t.Logf("readings %d, ring dropped %d, late %s", s.Readings, s.RingDropped, r.metric(late))
	if v := r.metric(late); v != "0" {
		t.Fatalf("%s = %s after a stall of the shards: readings that waited in the rings were judged by an idle fallback", late, v)
	}
}
