package pipeline

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/edgeplane/edgeplane/config"
)

// ErrReloadNeedsRestart reports a config change that Reload cannot apply
// to a running gateway.
var ErrReloadNeedsRestart = errors.New("change needs a restart")

// Reload applies a new, validated config to the running gateway without
// stopping it:
//
//   - pipelines whose options (or whose sources' decode fields) are
//     unchanged keep running with their open windows;
//   - changed and new pipelines are built first; if any fails to build,
//     nothing changes and the error is returned;
//   - sources keep their connections when unchanged and are re-pointed at
//     the new pipelines under their delivery lock; changed sources are
//     restarted (a persistent session gets the messages in between back);
//   - replaced pipelines then drain: their open windows fire and their
//     aggregates are stored in JetStream like at a graceful stop.
//
// The JetStream buffer and the forwarder are untouched, so every buffered
// aggregate stays and keeps flowing. Changes to the gateway, nats or kafka
// sections are refused with ErrReloadNeedsRestart, the old config kept.
func (g *Gateway) Reload(ctx context.Context, next *config.Config) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	err := g.reload(ctx, next)
	if err != nil {
		g.reloadFailures.Add(1)
		g.log.Error("reload refused; the running config is kept", "err", err)
		return err
	}
	g.reloads.Add(1)
	return nil
}

func (g *Gateway) reload(ctx context.Context, next *config.Config) error {
	prev := g.cfg
	// buffer.max_bytes left out is derived from the free disk
	// (config.BufferMaxBytesFor), which moves while the gateway runs: keep
	// the running value, or every reload on small storage would be a
	// change needing a restart.
	if next.BufferMaxBytesDerived() && prev.BufferMaxBytesDerived() {
		next.NATS.Buffer.MaxBytes = prev.NATS.Buffer.MaxBytes
	}
	plan, err := config.Compile(next)
	if err != nil {
		return err
	}
	for _, sec := range []struct {
		name     string
		old, new any
	}{{"gateway", prev.Gateway, next.Gateway}, {"nats", prev.NATS, next.NATS}, {"kafka", prev.Kafka, next.Kafka}} {
		if !reflect.DeepEqual(sec.old, sec.new) {
			return fmt.Errorf("the %s section changed: %w", sec.name, ErrReloadNeedsRestart)
		}
	}
	old := map[string]*pipe{}
	for _, p := range g.pipes {
		old[p.cfg.Name] = p
	}
	// Build every new or changed pipeline before touching anything.
	var (
		pipes []*pipe
		built []*pipe
		kept  = map[*pipe]bool{}
	)
	for _, pp := range plan.Pipelines {
		pc := pp.Config
		if p := old[pc.Name]; p != nil && samePipeline(prev, next, pc.Name) {
			pipes = append(pipes, p)
			kept[p] = true
			continue
		}
		p, err := newPipe(pp, g.log)
		if err != nil {
			return err
		}
		pipes = append(pipes, p)
		built = append(built, p)
	}
	// A kept pipeline keeps its *config.Pipeline (equal to the new one):
	// its delivery path reads it without a lock.
	g.cfg, g.plan = next, plan
	for _, p := range built {
		g.startPipe(p)
	}
	// Sources: keep, re-point, restart, add or remove.
	oldSrc := map[string]*sourceRun{}
	for _, sr := range g.sources {
		oldSrc[sr.cfg.Name] = sr
	}
	var sources []*sourceRun
	for _, sp := range plan.Sources {
		sc := sp.Config
		sr := oldSrc[sc.Name]
		delete(oldSrc, sc.Name)
		var prev []target
		if sr != nil {
			prev = sr.targets
		}
		targets := targetsFor(sc, pipes, prev)
		for _, t := range targets {
			if t.hq != nil && !t.p.held {
				t.p.loadStored(next.Gateway.DataDir)
				t.p.held = true
			}
		}
		if sr != nil && reflect.DeepEqual(*sr.cfg, *sc) && len(targets) > 0 {
			sr.mu.Lock()
			// Queues of pipelines that go away stay with the acker until
			// their pipelines are drained.
			for _, o := range sr.targets {
				if o.hq != nil && !kept[o.p] {
					sr.retiring = append(sr.retiring, o.hq)
				}
			}
			sr.cfg, sr.plan, sr.targets = sc, sp, targets
			sr.mu.Unlock()
			sources = append(sources, sr)
			continue
		}
		if sr != nil {
			g.retireSource(sr)
		}
		if len(targets) == 0 {
			g.log.Warn("source feeds no pipeline; not started", "source", sc.Name)
			continue
		}
		nsr := &sourceRun{cfg: sc, plan: sp, targets: targets}
		if err := g.startSource(ctx, nsr); err != nil {
			// The old source is gone; report, keep going with the rest.
			g.log.Error("source not started after reload", "source", sc.Name, "err", err)
			continue
		}
		sources = append(sources, nsr)
	}
	for _, sr := range oldSrc {
		g.retireSource(sr)
	}
	g.sources = sources
	// Retire the pipelines nothing delivers to any more.
	var errs []error
	dctx, cancel := context.WithTimeout(ctx, g.cfg.Gateway.ShutdownTimeout.D())
	defer cancel()
	for _, p := range g.pipes {
		if !kept[p] {
			if err := g.stopPipe(dctx, p); err != nil {
				errs = append(errs, err)
				continue
			}
			p.drained.Store(true)
		}
	}
	g.pipes = pipes
	g.m.rebuild()
	g.refreshTaps()
	g.log.Info("config reloaded", "pipelines_rebuilt", len(built), "pipelines_kept", len(kept), "sources", len(sources))
	return errors.Join(errs...)
}

// ReloadRefused counts a reload refused before Reload was called (the
// file did not validate), for /metrics.
func (g *Gateway) ReloadRefused() { g.reloadFailures.Add(1) }

// retireSource stops a source and waits until no delivery of it is in
// flight.
func (g *Gateway) retireSource(sr *sourceRun) {
	if sr.acker != nil {
		sr.acker.finish(true)
	}
	sr.stop(250 * time.Millisecond)
	sr.mu.Lock()
	sr.targets = nil
	sr.mu.Unlock()
}

// samePipeline reports whether pipeline name runs identically under both
// configs: same options and same decode fields for each of its sources.
func samePipeline(a, b *config.Config, name string) bool {
	pa, pb := findPipeline(a, name), findPipeline(b, name)
	if pa == nil || pb == nil || !reflect.DeepEqual(*pa, *pb) {
		return false
	}
	for _, from := range pa.From {
		sa, sb := a.Source(from), b.Source(from)
		if sa == nil || sb == nil || !reflect.DeepEqual(sa.Decode.FieldNames(), sb.Decode.FieldNames()) {
			return false
		}
	}
	return true
}

func findPipeline(c *config.Config, name string) *config.Pipeline {
	for i := range c.Pipelines {
		if c.Pipelines[i].Name == name {
			return &c.Pipelines[i]
		}
	}
	return nil
}
