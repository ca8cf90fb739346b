package natsd

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/edgeplane/edgeplane/internal/disk"
)

// The file store after a failed write. nats-server (2.15) keeps a stream's
// first write error (ENOSPC, EIO) in its file store and refuses every later
// write with it, and a standalone server answers none of those publishes:
// clients only time out. Nothing clears the error but reopening the store
// from disk. Disabling and re-enabling the account's JetStream does that
// but leaks the account's stream reservations (each reset adds every
// stream's max_bytes again until the account cannot be enabled), so
// ResetJetStream restarts the server's JetStream as a whole, which starts
// from fresh reservations and recovers every stream and consumer from its
// files; connections, subscriptions and listeners stay up. Purging a
// stream while the disk is full must be avoided: its tombstone write fails
// and the 2.15 file store then deadlocks on its own lock (compactLocked →
// flushPendingMsgs → rebuildState).

// StoreError returns the write error the server holds for stream, in any
// account, or for JetStream as a whole (not enabled, mid-reset); nil when
// the stream is healthy. It reads the server's own health check.
func (s *Server) StoreError(stream string) error {
	hs := s.srv.Healthz(&server.HealthzOptions{Details: true})
	for _, e := range hs.Errors {
		if e.Stream == stream || e.Type == server.HealthzErrorJetStream {
			return errors.New(e.Error)
		}
	}
	return nil
}

var resetMu sync.Mutex

// ResetJetStream restarts JetStream in the running server: every stream
// and consumer is closed and recovered from its files, which clears a
// store's write error. What was stored stays; requests in flight during the
// restart (a few milliseconds on a small store) get no answer. Safe for
// concurrent use.
func (s *Server) ResetJetStream() error {
	resetMu.Lock()
	defer resetMu.Unlock()
	prev := s.srv.JetStreamConfig()
	if prev == nil {
		return errors.New("natsd: jetstream is not enabled")
	}
	cfg := *prev
	// The config carries the store dir with the "jetstream" directory the
	// server appends; EnableJetStream appends it again.
	if filepath.Base(cfg.StoreDir) == server.JetStreamStoreDir {
		cfg.StoreDir = filepath.Dir(cfg.StoreDir)
	}
	if err := s.srv.ShutdownJetStream(); err != nil {
		return fmt.Errorf("natsd: stop jetstream: %w", err)
	}
	if err := s.srv.EnableJetStream(&cfg); err != nil {
		return fmt.Errorf("natsd: restart jetstream: %w", err)
	}
	return nil
}

// FreeBytes returns the bytes still free on the store dir's filesystem.
func (s *Server) FreeBytes() (uint64, error) {
	u, err := disk.Space(s.opts.StoreDir)
	return u.Free, err
}
