package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/pipeline"
)

// TestStoreLock: a store is held by one opener at a time; a gateway does
// not start on a store in use, and releases it when it stops.
func TestStoreLock(t *testing.T) {
	dir := t.TempDir()
	unlock, err := pipeline.LockStore(filepath.Join(dir, "jetstream"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.LockStore(filepath.Join(dir, "jetstream")); !errors.Is(err, pipeline.ErrStoreInUse) {
		t.Fatalf("second lock: %v, want ErrStoreInUse", err)
	}
	cfg := fmt.Sprintf(mqttDownConfig, dir, testenv.FreeAddr(t), testenv.FreeAddr(t))
	g, _ := newLoggedGateway(t, cfg)
	if err := g.Start(context.Background()); !errors.Is(err, pipeline.ErrStoreInUse) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("start on a locked store: %v", err)
	}
	if r := g.Ready(); r.Ready || !strings.Contains(strings.Join(r.Problems, " "), "start failed") {
		t.Fatalf("/readyz after a failed start: %+v", r)
	}
	unlock()

	g, _ = newLoggedGateway(t, cfg)
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.LockStore(filepath.Join(dir, "jetstream")); !errors.Is(err, pipeline.ErrStoreInUse) {
		t.Fatalf("lock while the gateway runs: %v, want ErrStoreInUse", err)
	}
	if err := g.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	unlock, err = pipeline.LockStore(filepath.Join(dir, "jetstream"))
	if err != nil {
		t.Fatalf("lock after the gateway stopped: %v", err)
	}
	unlock()
}
