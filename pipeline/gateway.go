package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgeplane/edgeplane/decode"

	"github.com/nats-io/nats.go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/ingest"
	"github.com/edgeplane/edgeplane/natsd"
	"github.com/edgeplane/edgeplane/sink"
)

// Options adjust how a Gateway runs its config.
type Options struct {
	Logger *slog.Logger
	// KafkaBrokers, when set, replace the config's kafka.brokers (the
	// demo points them at its in-process cluster).
	KafkaBrokers []string
	// NATS, when set, is used instead of starting the embedded server;
	// the caller owns its lifecycle.
	NATS *natsd.Server
	// KafkaStallAfter, when set, replaces kafka.stall_after: how
	// long Kafka may acknowledge nothing while frames wait before /readyz
	// reports the forwarding stalled.
	KafkaStallAfter time.Duration
}

// storeCheckInterval is how often a failed buffer store is checked for
// free space to reopen it; a working one is checked
// sink.HealthyStoreChecks times less often, and at once after a failed
// publish (see sink.Buffer.WatchStore).
const storeCheckInterval = 500 * time.Millisecond

// Gateway is a running edgeplane: the embedded NATS server, the sources,
// pipelines, buffer and forwarder of one config.
type Gateway struct {
	cfg  *config.Config
	plan *config.Compiled
	opts Options
	log  *slog.Logger

	ns      *natsd.Server
	ownNS   bool
	unlock  func() // the store's lock (LockStore), held while ownNS
	nc      *nats.Conn
	buf     *sink.Buffer
	kc      *kgo.Client
	fwd     *sink.Forwarder
	pipes   []*pipe
	sources []*sourceRun

	runCtx    context.Context // ingest: cancelled only on a hard stop
	runCancel context.CancelFunc
	sinkCtx   context.Context // writers: cancelled when the stop deadline passes
	sinkStop  context.CancelFunc
	fwdCancel context.CancelFunc
	fwdDone   chan struct{}
	// mu guards cfg, pipes and sources against Reload; the data path
	// never takes it.
	mu              sync.Mutex
	reloads         atomic.Uint64
	reloadFailures  atomic.Uint64
	dead            *deadLetters
	latency         histogram // window result emitted → acknowledged by Kafka
	telemetrySent   atomic.Uint64
	telemetryFailed atomic.Uint64
	started         time.Time
	// up is set once Start has brought up NATS, the buffer, the forwarder
	// and every source: the HTTP handlers, which may serve while Start
	// runs, read those fields only after it (its store orders their
	// writes before the handlers' reads). Until then /readyz reports
	// starting, the step Start is at.
	up        atomic.Bool
	starting  atomic.Pointer[string]
	stopOnce  sync.Once
	m         *gatewayMetrics
	taps      tapHub // live taps (tap.go)
	httpToken string // bearer token of the read API (api.go); "" none
}

// sourceRun is a configured source and the pipelines it feeds.
type sourceRun struct {
	cfg  *config.Source
	plan *config.SourcePlan
	src  ingest.Source
	// mqtt is set for mqtt sources (held acks, client ids), broker to
	// its broker URL (the embedded listener's resolved), for /readyz.
	mqtt   *ingest.MQTTSource
	broker string
	// nc is the dedicated connection of an embedded source.
	nc *nats.Conn
	// mu is read-locked by every delivery and write-locked by Reload to
	// swap targets, so a pipeline being replaced receives nothing after
	// the swap returns.
	mu       sync.RWMutex
	targets  []target
	retiring []*holdQueue // held acks: queues of pipelines a reload is draining
	acker    *holdAcker   // held acks only
	// epoch is the MQTT source's connection epoch the held-ack pipelines'
	// replay floors were last raised for (holdack.go); epochMu serializes
	// raising them.
	epoch   atomic.Uint64
	epochMu sync.Mutex
}

func (sc *sourceRun) holdsAcks() bool {
	return sc.cfg.Type == config.SourceMQTT && sc.cfg.MQTT.HoldAcks
}

func (sr *sourceRun) deliver(ctx context.Context, b *decode.Batch) {
	sr.mu.RLock()
	if sr.acker != nil {
		if e := sr.mqtt.Epoch(); e != sr.epoch.Load() {
			sr.newEpoch(e)
		}
	}
	for _, t := range sr.targets {
		rel := t.p.deliver(ctx, t.idx, b)
		if t.hq != nil {
			t.hq.push(b.Seq, rel)
		}
	}
	sr.mu.RUnlock()
}

// newEpoch raises the replay floors of the held-ack pipelines after the
// source opened a new connection, before anything of it is delivered
// (other receive goroutines wait on epochMu or see the floors raised).
// The caller holds sr.mu read-locked.
func (sr *sourceRun) newEpoch(e uint64) {
	sr.epochMu.Lock()
	defer sr.epochMu.Unlock()
	if e <= sr.epoch.Load() {
		return
	}
	for _, t := range sr.targets {
		if t.hq != nil {
			t.p.raiseReplayFloor()
		}
	}
	sr.epoch.Store(e)
}

// targetsFor lists the pipelines of pipes that read source sc; with held
// acks each gets a queue, or keeps the one it had in prev.
func targetsFor(sc *config.Source, pipes []*pipe, prev []target) []target {
	var ts []target
	for _, p := range pipes {
		for j, from := range p.cfg.From {
			if from != sc.Name {
				continue
			}
			t := target{p: p, idx: j}
			if sc.Type == config.SourceMQTT && sc.MQTT.HoldAcks {
				t.hq = &holdQueue{p: p}
				for _, o := range prev {
					if o.p == p && o.hq != nil {
						t.hq = o.hq
					}
				}
			}
			ts = append(ts, t)
		}
	}
	return ts
}

type target struct {
	p   *pipe
	idx int        // the source's index in the pipeline's from list
	hq  *holdQueue // held acks only
}

// New builds a gateway from a config: it compiles it (config.Compile, the
// same step `edgeplane validate` runs), allocates every pipeline's state
// from the compiled options, and connects to nothing.
func New(cfg *config.Config, o Options) (*Gateway, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	plan, err := config.Compile(cfg)
	if err != nil {
		return nil, err
	}
	g := &Gateway{cfg: cfg, plan: plan, opts: o, log: o.Logger, dead: newDeadLetters()}
	if g.httpToken, err = secret(cfg.Gateway.HTTPToken, cfg.Gateway.HTTPTokenFile); err != nil {
		return nil, fmt.Errorf("gateway.http_token_file: %w", err)
	}
	g.latency.name = "edgeplane_sink_latency_seconds"
	g.latency.help = "Time from a window result's emission to its acknowledgement by Kafka."
	for _, pp := range plan.Pipelines {
		p, err := newPipe(pp, o.Logger)
		if err != nil {
			return nil, err
		}
		g.pipes = append(g.pipes, p)
	}
	for _, sp := range plan.Sources {
		sc := sp.Config
		sr := &sourceRun{cfg: sc, plan: sp, targets: targetsFor(sc, g.pipes, nil)}
		if sr.holdsAcks() {
			for _, t := range sr.targets {
				if !t.p.held {
					t.p.loadStored(cfg.Gateway.DataDir)
					t.p.held = true
				}
			}
		}
		if len(sr.targets) == 0 {
			g.log.Warn("source feeds no pipeline; not started", "source", sc.Name)
			continue
		}
		g.sources = append(g.sources, sr)
	}
	g.m = newGatewayMetrics(g)
	return g, nil
}

// Memory returns the memory estimate of the running configuration
// (config.Compiled.Memory).
func (g *Gateway) Memory() config.MemoryEstimate {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.plan.Memory()
}

// Start brings the gateway up: NATS, buffer, Kafka client and forwarder,
// shard goroutines, then the sources. If it fails, everything it started
// is stopped again.
//
// It never waits for a dependency beyond the local NATS server: Kafka is
// dialled on first use, and MQTT sources connect in the background
// (retrying until Stop; an unreachable broker is logged, rate-limited,
// and /readyz says the source is not connected). Start gives them one
// second to connect, so that a reachable broker's subscriptions are in
// place when it returns, and returns after that second in any case.
//
// The HTTP handlers (Handler) may serve while Start runs: /healthz
// answers, /readyz reports the step Start is at, /metrics reads zeros for
// what is not up yet.
func (g *Gateway) Start(ctx context.Context) (err error) {
	g.started = time.Now()
	defer func() {
		if err != nil {
			g.setStarting("start failed: " + err.Error())
			g.abort()
		}
	}()
	g.runCtx, g.runCancel = context.WithCancel(context.Background())
	g.sinkCtx, g.sinkStop = context.WithCancel(context.Background())
	g.setStarting("starting the embedded NATS server and JetStream (" + g.plan.NATS.StoreDir + ")")
	if err := g.startNATS(); err != nil {
		return err
	}
	g.setStarting("opening the JetStream buffer")
	g.buf, err = sink.OpenBuffer(ctx, g.nc, g.plan.Buffer)
	if err != nil {
		return err
	}
	g.setStarting("starting the Kafka forwarder")
	go g.buf.WatchStore(g.runCtx, g.ns, storeCheckInterval, g.log)
	if err := g.startKafka(ctx); err != nil {
		return err
	}
	for _, p := range g.pipes {
		g.startPipe(p)
	}
	go g.dead.run(g.runCtx, g.nc)
	g.setStarting("starting the sources")
	for _, sr := range g.sources {
		if err := g.startSource(ctx, sr); err != nil {
			return err
		}
	}
	g.up.Store(true)
	// MQTT sources connect in the background. Give them a moment, so that
	// with a reachable broker (the embedded one connects in milliseconds)
	// they are subscribed when Start returns; an unreachable one delays
	// Start by this grace at most, not by a connect timeout.
	const mqttStartGrace = time.Second
	for deadline := time.Now().Add(mqttStartGrace); ; time.Sleep(5 * time.Millisecond) {
		var down []string
		for _, sr := range g.sources {
			if !sr.src.Connected() {
				down = append(down, sr.cfg.Name)
			}
		}
		if len(down) == 0 {
			break
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			g.log.Warn("sources not connected yet; retrying in the background", "sources", down)
			break
		}
	}
	if iv := g.cfg.Gateway.TelemetryInterval.D(); iv > 0 {
		go g.telemetry(g.runCtx, g.cfg.Gateway.ID, g.cfg.Gateway.TelemetryTopic, iv, &g.telemetrySent, &g.telemetryFailed)
	}
	g.log.Info("gateway started", "id", g.cfg.Gateway.ID, "pipelines", len(g.pipes), "sources", len(g.sources),
		"mqtt_listener", g.ns.MQTTAddr(), "kafka", g.brokers())
	return nil
}

// setStarting records the step Start is at, for /readyz.
func (g *Gateway) setStarting(step string) { g.starting.Store(&step) }

// startingStep returns the step Start is at ("" before Start).
func (g *Gateway) startingStep() string {
	if p := g.starting.Load(); p != nil {
		return *p
	}
	return ""
}

func (g *Gateway) brokers() []string {
	if len(g.opts.KafkaBrokers) > 0 {
		return g.opts.KafkaBrokers
	}
	return g.cfg.Kafka.Brokers
}

// startPipe starts a pipeline's shard goroutines and its marker loop.
func (g *Gateway) startPipe(p *pipe) {
	if p.plan.Operators.InBandWatermarks {
		// Pipeline scope: the marker loop queues the watermark into the
		// rings. In series scope each shard keeps its series' time.
		mctx, cancel := context.WithCancel(context.Background())
		p.mkCancel, p.mkDone = cancel, make(chan struct{})
		go p.markers(mctx, p.mkDone)
	}
	for _, s := range p.shards {
		wo := p.plan.Writer
		wo.Logger = g.log
		s.w = sink.NewWriter(g.buf, wo, p.series, p.fields, &p.wstats)
		if p.plan.Late != nil {
			lo := *p.plan.Late
			lo.Logger = g.log
			s.late = sink.NewLateWriter(g.buf, lo, p.series, p.fields, &p.lateStats)
		}
		p.wg.Add(1)
		go s.run(g.sinkCtx, &p.wg)
	}
}

// stopPipe stops a pipeline whose sources no longer deliver to it: the
// rings close, the shards drain them, fire every open window and store
// their last frames. It waits for that, or for ctx.
func (g *Gateway) stopPipe(ctx context.Context, p *pipe) error {
	p.stopMarkers()
	p.stopped.Store(true)
	for _, r := range p.rings {
		r.Close()
	}
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("pipeline %s: not drained before the deadline: %w", p.cfg.Name, ctx.Err())
	}
}

func (g *Gateway) startNATS() error {
	if g.opts.NATS != nil {
		g.ns = g.opts.NATS
	} else {
		no := g.plan.NATS
		no.Logger = g.log
		if err := g.listenerSecrets(&no); err != nil {
			return err
		}
		unlock, err := LockStore(no.StoreDir)
		if err != nil {
			return fmt.Errorf("data_dir %s: %w", g.cfg.Gateway.DataDir, err)
		}
		ns, err := natsd.Start(no)
		if err != nil {
			unlock()
			return err
		}
		g.ns, g.ownNS, g.unlock = ns, true, unlock
	}
	nc, err := g.ns.Connect("edgeplane-" + g.cfg.Gateway.ID)
	if err != nil {
		return err
	}
	g.nc = nc
	return nil
}

func (g *Gateway) startKafka(ctx context.Context) error {
	k := &g.cfg.Kafka
	pw, err := secret(k.SASL.Password, k.SASL.PasswordFile)
	if err != nil {
		return fmt.Errorf("kafka sasl: %w", err)
	}
	g.kc, err = sink.NewKafkaClient(sink.KafkaOptions{
		Brokers:          g.brokers(),
		ClientID:         k.ClientID,
		Compression:      k.Compression,
		AutoCreateTopics: k.AutoCreateTopics,
		MaxBufferedBytes: sink.KafkaBufferFor(int64(g.cfg.Gateway.MemoryLimit)),
		TLS: sink.TLSOptions{Enabled: k.TLS.Enabled, CAFile: k.TLS.CAFile, CertFile: k.TLS.CertFile,
			KeyFile: k.TLS.KeyFile, ServerName: k.TLS.ServerName, InsecureSkipVerify: k.TLS.InsecureSkipVerify},
		SASL:   sink.SASLOptions{Mechanism: k.SASL.Mechanism, Username: k.SASL.Username, Password: pw},
		Logger: g.log,
	})
	if err != nil {
		return err
	}
	g.fwd, err = sink.NewForwarder(ctx, g.buf, g.kc, sink.ForwarderOptions{
		Batch:           sink.ForwarderBatchFor(int64(g.cfg.Gateway.MemoryLimit)),
		DeliveryTimeout: k.DeliveryTimeout.D(),
		OnDelivered:     g.latency.observe,
		StallAfter:      cmp.Or(g.opts.KafkaStallAfter, k.StallAfter.D()),
		Logger:          g.log,
	})
	if err != nil {
		return err
	}
	fctx, cancel := context.WithCancel(context.Background())
	g.fwdCancel = cancel
	g.fwdDone = make(chan struct{})
	go func() {
		defer close(g.fwdDone)
		_ = g.fwd.Run(fctx)
	}()
	return nil
}

func (g *Gateway) startSource(ctx context.Context, sr *sourceRun) error {
	sc := sr.cfg
	deliver := func(b *decode.Batch) { sr.deliver(g.runCtx, b) }
	var dl ingest.DeadLetter
	if sc.DeadLetter {
		if err := g.dead.openStream(ctx, g.nc); err != nil {
			return fmt.Errorf("source %s: %w", sc.Name, err)
		}
		dl = g.dead.hook(sc.Name)
	}
	var err error
	switch sc.Type {
	case config.SourceMQTT:
		err = g.newMQTTSource(sr, deliver, dl)
	case config.SourceEmbedded:
		// The sensors' account: where the listeners' clients publish.
		if sr.nc, err = g.ns.ConnectSensors("edgeplane-ingest-" + sc.Name); err != nil {
			return fmt.Errorf("source %s: %w", sc.Name, err)
		}
		o := sr.plan.Embedded
		o.Conn, o.DeadLetter, o.Logger = sr.nc, dl, g.log
		sr.src, err = ingest.NewNATSSource(o, &sr.plan.Decode, deliver)
	case config.SourceWebSocket:
		o := sr.plan.WebSocket
		if o.Token, err = secret(sc.WebSocket.Token, sc.WebSocket.TokenFile); err != nil {
			return fmt.Errorf("source %s: token: %w", sc.Name, err)
		}
		o.DeadLetter, o.Logger = dl, g.log
		sr.src, err = ingest.NewWSSource(o, &sr.plan.Decode, deliver)
	default:
		err = fmt.Errorf("unknown source type %q", sc.Type)
	}
	if err != nil {
		return fmt.Errorf("source %s: %w", sc.Name, err)
	}
	if sr.holdsAcks() {
		sr.acker = newHoldAcker(sr)
		go sr.acker.run()
	}
	if sc.Type == config.SourceMQTT {
		// Never wait for a broker here: paho connects and keeps retrying
		// in the background, the source logs unreachable brokers
		// (rate-limited) and /readyz reports it not connected. Start
		// returns once connected or when the source is stopped.
		src := sr.src
		go func() { _ = src.Start(g.runCtx) }()
		return nil
	}
	if err := sr.src.Start(ctx); err != nil {
		return fmt.Errorf("source %s: %w", sc.Name, err)
	}
	return nil
}

func (g *Gateway) newMQTTSource(sr *sourceRun, deliver ingest.Deliver, dl ingest.DeadLetter) error {
	m := &sr.cfg.MQTT
	o := sr.plan.MQTT
	if sr.plan.EmbeddedBroker {
		if o.Broker = g.ns.MQTTAddr(); o.Broker == "" {
			return errors.New("broker is embedded but the embedded MQTT listener is off")
		}
	}
	var err error
	if o.Password, err = secret(m.Password, m.PasswordFile); err != nil {
		return err
	}
	if m.TLS.Enabled {
		if o.TLS, err = clientTLS(&m.TLS); err != nil {
			return err
		}
	}
	if sr.plan.EmbeddedBroker {
		// The gateway's own listener: its own (subscribe-only) user unless
		// the source names one, and its certificate pinned unless the
		// source configures TLS.
		if m.Username == "" {
			o.Username, o.Password = g.ns.MQTTCredentials()
		}
		if o.TLS == nil {
			o.TLS = g.ns.MQTTClientTLS()
		}
	}
	o.DeadLetter, o.Logger = dl, g.log
	src, err := ingest.NewMQTTSource(o, &sr.plan.Decode, deliver)
	if err != nil {
		return err
	}
	sr.src, sr.mqtt, sr.broker = src, src, o.Broker
	return nil
}

// stopSource stops a source's input and closes its dedicated connection.
func (sr *sourceRun) stop(quiesce time.Duration) {
	if sr.src != nil {
		sr.src.Stop(quiesce)
	}
	if sr.nc != nil {
		sr.nc.Close()
	}
}

// Stop shuts down gracefully within the config's shutdown_timeout (or
// ctx): sources stop, rings drain, every open window fires, frames are
// stored in JetStream, then the forwarder, the Kafka client and NATS stop.
// What JetStream holds is forwarded on the next start.
func (g *Gateway) Stop(ctx context.Context) error {
	var err error
	g.stopOnce.Do(func() { err = g.stop(ctx) })
	return err
}

func (g *Gateway) stop(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, g.cfg.Gateway.ShutdownTimeout.D())
	defer cancel()
	for _, sr := range g.sources {
		if sr.acker != nil {
			// Stop taking messages but keep the connection: the acks of
			// what the pipelines store during the drain go out below.
			sr.mqtt.Quiesce()
			continue
		}
		sr.stop(250 * time.Millisecond)
	}
	var errs []error
	for _, p := range g.pipes {
		if err := g.stopPipe(ctx, p); err != nil {
			errs = append(errs, err)
		}
	}
	for _, sr := range g.sources {
		if sr.acker != nil {
			sr.acker.finish(true)
			sr.stop(250 * time.Millisecond)
		}
	}
	var err error
	if len(errs) > 0 {
		if g.buf != nil {
			if failed, why := g.buf.StoreProblem(); failed {
				errs = append(errs, errors.New(why))
			}
		}
		err = fmt.Errorf("shutdown timeout: some aggregates were not stored: %w", errors.Join(errs...))
	}
	g.abort()
	if err != nil {
		g.log.Error("gateway stopped", "err", err)
	} else {
		g.log.Info("gateway stopped")
	}
	return err
}

// abort releases whatever Start brought up, without draining.
func (g *Gateway) abort() {
	g.taps.close()
	for _, sr := range g.sources {
		if sr.acker != nil {
			sr.acker.finish(false)
		}
		sr.stop(0)
	}
	if g.runCancel != nil {
		g.runCancel()
	}
	// Shards still running (Start failed half-way, or the stop deadline
	// passed): stop them without waiting for a final store.
	if g.sinkStop != nil {
		g.sinkStop()
	}
	for _, p := range g.pipes {
		p.stopMarkers()
		p.stopped.Store(true)
		for _, r := range p.rings {
			r.Close()
		}
		p.wg.Wait()
	}
	if g.fwdCancel != nil {
		g.fwdCancel()
		<-g.fwdDone
	}
	if g.kc != nil {
		g.kc.Close()
	}
	if g.nc != nil {
		g.nc.Close()
	}
	if g.ownNS && g.ns != nil {
		g.ns.Shutdown()
	}
	if g.unlock != nil {
		g.unlock()
		g.unlock = nil
	}
}

// Kill stops the gateway the hard way, as a crash would: nothing more is
// stored or acknowledged, open windows are lost. For tests of what a crash
// loses; use Stop otherwise.
func (g *Gateway) Kill() {
	g.stopOnce.Do(func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, sr := range g.sources {
			if sr.acker != nil {
				sr.acker.finish(false)
			}
		}
		if g.sinkStop != nil {
			g.sinkStop()
		}
		g.abort()
	})
}

// MQTTAddr returns the embedded MQTT listener's URL ("" when off).
func (g *Gateway) MQTTAddr() string {
	if g.ns == nil {
		return ""
	}
	return g.ns.MQTTAddr()
}
