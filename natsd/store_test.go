package natsd_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/natsd"
)

// TestStoreErrorAndReset: on a full tmpfs a stream's write fails, the
// server answers no publish and keeps the error (StoreError reports it,
// even after space returns); ResetJetStream, repeated, clears it and keeps
// every message stored; publishing works again.
func TestStoreErrorAndReset(t *testing.T) {
	dir := testenv.Tmpfs(t, 8<<20)
	s, err := natsd.Start(natsd.Options{StoreDir: filepath.Join(dir, "nats")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	nc, err := s.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"},
		Storage: jetstream.FileStorage, MaxBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, 8<<10)
	const stored = 20
	for i := 0; i < stored; i++ {
		if _, err := js.Publish(ctx, "s.a", msg); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.StoreError("S"); err != nil {
		t.Fatalf("healthy stream: %v", err)
	}
	filler := testenv.FillDisk(t, dir)
	// One message id: a publish that timed out here but was stored is
	// not stored again by the retry (JetStream's duplicate window).
	pub := func() error {
		c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		_, err := js.Publish(c, "s.a", msg, jetstream.WithMsgID("after-the-disk-filled"))
		return err
	}
	if err := pub(); err == nil {
		t.Fatal("publish on a full disk succeeded")
	}
	err = s.StoreError("S")
	if err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("StoreError on a full disk: %v", err)
	}
	if free, err := s.FreeBytes(); err != nil || free >= 1<<20 {
		t.Fatalf("free on a full disk: %d, %v", free, err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreError("S"); err == nil {
		t.Fatal("the write error cleared by itself; the reset is no longer needed")
	}
	// Twice: re-enabling the account's JetStream instead would fail the
	// second time (leaked reservations).
	for i := 0; i < 2; i++ {
		if err := s.ResetJetStream(); err != nil {
			t.Fatalf("reset %d: %v", i, err)
		}
		if err := s.StoreError("S"); err != nil {
			t.Fatalf("after reset %d: %v", i, err)
		}
	}
	testenv.CheckFor(t, 5*time.Second, 20*time.Millisecond, pub)
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != stored+1 {
		t.Fatalf("after the reset the stream holds %d messages, want %d", info.State.Msgs, stored+1)
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"},
		Storage: jetstream.FileStorage, MaxBytes: 1 << 20}); err != nil {
		t.Fatal(fmt.Errorf("a new stream after two resets: %w", err))
	}
}
