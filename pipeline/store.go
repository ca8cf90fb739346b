package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/natsd"
)

// ErrStoreInUse is returned by LockStore when another process (or another
// gateway of this one) holds the JetStream store: a running gateway.
var ErrStoreInUse = errors.New("the JetStream store is in use by a running gateway")

// storeLockName is the lock file in the store directory. nats-server does
// not lock its store, and two servers on one store corrupt it: a gateway
// that starts its own embedded server holds this lock (flock, released by
// the kernel when the process dies, even by kill -9) for as long as it
// runs, and so does whatever else opens the store (OpenStore).
const storeLockName = "edgeplane.lock"

// LockStore takes the store directory's lock without waiting, creating
// the directory if missing. It returns ErrStoreInUse (wrapped, with the
// lock file's path) when the lock is held. unlock releases it.
func LockStore(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("store %s: %w", dir, err)
	}
	path := filepath.Join(dir, storeLockName)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("store lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s is locked)", ErrStoreInUse, path)
		}
		return nil, fmt.Errorf("store lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}

// Store is a gateway's JetStream store opened by another command while
// the gateway is stopped: an embedded server on the same directory with
// no listener at all, reachable only in-process.
type Store struct {
	ns     *natsd.Server
	unlock func()
}

// OpenStore opens the JetStream store of a compiled config whose gateway
// is not running: it takes the store's lock (ErrStoreInUse while the
// gateway runs) and starts the embedded server on it without listeners.
// The server recovers the streams as the gateway would and applies their
// limits; nothing else is written. Close releases it. A store that does
// not exist is an error, not created.
func OpenStore(plan *config.Compiled) (*Store, error) {
	dir := plan.NATS.StoreDir
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("no JetStream store at %s (has the gateway run with this data_dir?): %w", dir, err)
	}
	unlock, err := LockStore(dir)
	if err != nil {
		return nil, err
	}
	o := plan.NATS
	o.Listen, o.MQTTListen, o.Logger = "", "", nil
	ns, err := natsd.Start(o)
	if err != nil {
		unlock()
		return nil, err
	}
	return &Store{ns: ns, unlock: unlock}, nil
}

// Server returns the store's embedded server, for in-process connections.
func (s *Store) Server() *natsd.Server { return s.ns }

// Close shuts the server down (flushing the store) and releases the lock.
func (s *Store) Close() {
	s.ns.Shutdown()
	s.unlock()
}
