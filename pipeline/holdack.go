package pipeline

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Held acknowledgements (mqtt.hold_acks): the broker's QoS 1 ack of a
// message is sent only once every reading of it is inside an aggregate
// stored in JetStream, so a crash loses nothing — the broker redelivers.
//
// A reading is stored once its last window (the one with the latest end)
// has fired and the shard's writer has published everything it emitted:
// each shard publishes, after a loop iteration that left no aggregate
// pending, the watermark it had then (shardRun.stored). A pipeline's stored
// watermark is the minimum over its shards. Per source and pipeline a
// queue keeps (message seq, release) in arrival order, where release =
// the reading's last window end − 1 (+ allowed lateness in final mode); the
// acker pops what the stored watermark covers and acks the source through
// the lowest frontier over its pipelines.
//
// Exactly once per window after a crash: before acking through a stored
// watermark, the acker persists it (<data_dir>/state/<pipeline>.stored).
// At start, a pipeline fed by a held-ack source drops readings whose
// release is at or below the persisted value — redeliveries of messages
// whose windows are already in JetStream — and counts them as replayed.
// Every message of a window not yet stored is unacked, so the broker
// redelivers all of it and the window is rebuilt whole.
//
// A lost connection loses the PUBACKs in flight on it, and the broker
// redelivers those messages on the next one (persistent session) even
// though their windows may be stored. So when a held-ack source opens a
// new network connection (ingest.MQTTSource.Epoch moved), the first
// delivery that sees it raises the replay floor of the source's pipelines
// to their persisted stored watermark, before any message of the new
// connection reaches them: redeliveries of stored windows are replays
// after a reconnect as after a restart. Readings of windows still open
// when the connection was lost are delivered twice (at least once).

// holdQueue is one (source, pipeline) queue of delivered messages.
type holdQueue struct {
	p       *pipe
	mu      sync.Mutex
	entries []holdEntry
	last    uint64 // highest seq enqueued
}

type holdEntry struct {
	seq     uint64
	release int64
}

func (q *holdQueue) push(seq uint64, release int64) {
	q.mu.Lock()
	q.entries = append(q.entries, holdEntry{seq, release})
	q.last = seq
	q.mu.Unlock()
}

// frontier pops the entries stored covers and returns the highest seq
// through which every enqueued message is released.
func (q *holdQueue) frontier(stored int64) uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for n < len(q.entries) && q.entries[n].release <= stored {
		n++
	}
	if n > 0 {
		q.entries = append(q.entries[:0], q.entries[n:]...)
	}
	if len(q.entries) == 0 {
		return q.last
	}
	return q.entries[0].seq - 1
}

// holdAcker acks one held-ack source.
type holdAcker struct {
	sr    *sourceRun
	acked uint64
	stop  chan struct{} // graceful: one last pass, then return
	kill  chan struct{} // hard stop: return without acking
	done  chan struct{}
}

// ackPass persists the stored watermarks it relies on, then acks the
// source through the lowest frontier of its queues.
func (a *holdAcker) ackPass() {
	sr := a.sr
	sr.mu.RLock()
	qs := make([]*holdQueue, 0, len(sr.targets)+len(sr.retiring))
	for _, t := range sr.targets {
		qs = append(qs, t.hq)
	}
	qs = append(qs, sr.retiring...)
	sr.mu.RUnlock()
	through := uint64(math.MaxUint64)
	for _, q := range qs {
		stored := q.p.persistStored()
		through = min(through, q.frontier(stored))
	}
	// Queues of pipelines drained by a reload are done once empty.
	sr.mu.Lock()
	keep := sr.retiring[:0]
	for _, q := range sr.retiring {
		if !q.p.drained.Load() || q.frontier(math.MaxInt64) != q.last {
			keep = append(keep, q)
		}
	}
	sr.retiring = keep
	sr.mu.Unlock()
	if through == math.MaxUint64 || through <= a.acked {
		return
	}
	sr.mqtt.AckThrough(through)
	a.acked = through
}

func newHoldAcker(sr *sourceRun) *holdAcker {
	return &holdAcker{sr: sr, stop: make(chan struct{}), kill: make(chan struct{}), done: make(chan struct{})}
}

// run acks every interval until stop (one last pass) or kill (none).
func (a *holdAcker) run() {
	defer close(a.done)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-a.kill:
			return
		case <-a.stop:
			a.ackPass()
			return
		case <-t.C:
			a.ackPass()
		}
	}
}

// finish stops the acker: gracefully (a last pass) or not; idempotent.
func (a *holdAcker) finish(graceful bool) {
	select {
	case <-a.done:
		return
	default:
	}
	if graceful {
		close(a.stop)
	} else {
		close(a.kill)
	}
	<-a.done
}

// release returns the watermark at which a reading at t is inside a
// stored aggregate (operators.Config.Release).
func (p *pipe) release(t int64) int64 { return p.plan.Operators.Release(t) }

// storedWM is the watermark through which every fired window of the
// pipeline is stored in JetStream; +∞ once the pipeline was drained by a
// reload.
func (p *pipe) storedWM() int64 {
	if p.drained.Load() {
		return math.MaxInt64
	}
	wm := int64(math.MaxInt64)
	for _, s := range p.shards {
		wm = min(wm, s.stored.Load())
	}
	return wm
}

// persistStored writes the stored watermark to the pipeline's state file
// (when it moved) and returns the value now safe to ack against. If the
// write fails, it returns the last value persisted.
func (p *pipe) persistStored() int64 {
	wm := p.storedWM()
	if p.stateFile == "" || wm == math.MaxInt64 {
		return wm
	}
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	if wm <= p.persisted {
		return min(wm, p.persisted)
	}
	if err := writeFileSync(p.stateFile, []byte(p.windowSpec()+" "+strconv.FormatInt(wm, 10)+"\n")); err != nil {
		p.log.Error("cannot persist the stored watermark; holding acks", "file", p.stateFile, "err", err)
		return p.persisted
	}
	p.persisted = wm
	return wm
}

// windowSpec identifies the window layout the persisted value is valid for.
func (p *pipe) windowSpec() string { return p.plan.Operators.Spec() }

// loadStored reads the persisted stored watermark, if it was written for
// the same window layout.
func (p *pipe) loadStored(dataDir string) {
	p.stateFile = filepath.Join(dataDir, "state", p.cfg.Name+".stored")
	p.persisted = math.MinInt64
	p.replayFloor.Store(math.MinInt64)
	b, err := os.ReadFile(p.stateFile)
	if err != nil {
		return
	}
	line := strings.TrimSpace(string(b))
	spec := p.windowSpec()
	if !strings.HasPrefix(line, spec+" ") {
		p.log.Info("ignoring the persisted stored watermark: the window layout changed", "file", p.stateFile)
		return
	}
	v, err := strconv.ParseInt(strings.TrimPrefix(line, spec+" "), 10, 64)
	if err != nil {
		p.log.Warn("bad stored watermark file; ignored", "file", p.stateFile, "err", err)
		return
	}
	p.persisted = v
	p.replayFloor.Store(v)
	p.log.Info("held acks: readings of windows stored before the restart will be dropped as replays", "stored_watermark_ms", v)
}

// raiseReplayFloor raises the replay floor to the persisted stored
// watermark (a held-ack source reconnected) and returns the floor.
func (p *pipe) raiseReplayFloor() int64 {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	if p.persisted > p.replayFloor.Load() {
		p.replayFloor.Store(p.persisted)
		p.log.Info("held acks: source reconnected; redelivered readings of windows already stored will be dropped as replays", "stored_watermark_ms", p.persisted)
	}
	return p.replayFloor.Load()
}

// writeFileSync replaces name with data durably: temp file, fsync, rename.
func writeFileSync(name string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o750); err != nil {
		return err
	}
	tmp := name + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}
