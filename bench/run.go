package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// RunOptions configure Run beyond the scenario.
type RunOptions struct {
	Stack StackOptions
	// WSURL and WSToken target a WebSocket endpoint; WSURL overrides the
	// stack's. Without WSURL, an embedded or subprocess target serves a
	// WebSocket source for a ws scenario, with WSToken (default: random)
	// as its bearer token.
	WSURL, WSToken string
	// Progress receives the live progress line (nil: none); TTY selects
	// a carriage-return line over plain lines.
	Progress io.Writer
	TTY      bool
	Logger   *slog.Logger
	// SubscriberCmd runs the baseline's bare subscriber as a process of
	// its own (edgebench subscribe: see Subscribe), so that its CPU and
	// memory are measured; nil runs it in this process, counting only.
	SubscriberCmd []string
}

// Run runs sc and returns its report. A scenario the target cannot run
// (a WebSocket scenario against an external gateway without --ws URL)
// returns a report saying so in Skipped, not an error.
func Run(ctx context.Context, sc *Scenario, o RunOptions) (*Report, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ss, err := NewSensorSet(sc.Sensors)
	if err != nil {
		return nil, err
	}
	rep := &Report{Scenario: sc, Env: ReadEnvironment(), Started: time.Now().UTC()}
	prog := newProgress(o.Progress, o.TTY)
	prog.note("starting %s target", orDefault(o.Stack.Mode, ModeEmbedded))
	if sc.Transport == TransportWS && o.WSURL == "" && o.Stack.Mode != ModeExternal {
		o.Stack.WSConnections, o.Stack.WSToken = sc.Connections, o.WSToken
	}
	o.Stack.Mosquitto = sc.Broker == BrokerMosquitto && o.Stack.Mode != ModeExternal
	st, err := StartStack(ctx, o.Stack, ss, sc.Pipeline, sc.QoS)
	if err != nil {
		return nil, err
	}
	defer func() { _ = st.Close(context.Background()) }()
	rep.Target = TargetInfo{Mode: st.Mode, MQTT: st.MQTTURL(), Kafka: st.Kafka(), Topic: st.Topic(), Notes: st.Notes()}
	for _, p := range st.Procs() {
		rep.Target.Processes = append(rep.Target.Processes, p.Role)
	}

	r := &runner{sc: sc, ss: ss, st: st, rep: rep, prog: prog, log: o.Logger}
	switch sc.Transport {
	case TransportWS:
		url, token := o.WSURL, o.WSToken
		if url == "" {
			url, token = st.WSURL(), st.WSToken()
		}
		rep.Target.WS = url
		if url == "" {
			rep.Skipped = "the external target has no WebSocket endpoint: give the gateway's with --ws (and --ws-token); " +
				"the generator, its framing and the accounting are ready and ran against nothing"
			rep.finish()
			return rep, nil
		}
		prog.note("opening %d WebSocket connections to %s", sc.Connections, url)
		wp, err := DialWS(ctx, WSOptions{URL: url, Token: token, Connections: sc.Connections, PerFrame: sc.PerFrame, Framing: sc.Framing})
		if err != nil {
			return nil, err
		}
		defer wp.Close()
		r.pub, r.stats = wp, &wp.Stats
	default:
		mp, err := DialMQTT(ctx, MQTTOptions{Broker: st.MQTTURL(), Connections: sc.Connections, QoS: byte(sc.QoS)})
		if err != nil {
			return nil, err
		}
		defer mp.Close()
		r.pub, r.stats, r.mqtt = mp, &mp.Stats, mp
	}

	col, err := NewCollector(st.Kafka(), st.Topic(), ss)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(context.Background())
	go col.Run(cctx)
	defer func() { cancel(); col.Wait() }()
	r.col = col

	if sc.Baseline.Enabled {
		if r.mqtt == nil {
			rep.Notes = append(rep.Notes, "baseline skipped: it measures an MQTT subscriber and this scenario publishes over WebSocket")
		} else {
			bs := sc.Baseline
			prog.note("baseline: bare paho subscriber on %s: paced steps of %s from %s msg/s, then %s at max rate",
				st.MQTTURL(), bs.Duration.D(), fmtRate(bs.Start), bs.Flood.D())
			bo := BaselineOptions{QoS: sc.QoS, Start: bs.Start, MaxSteps: bs.MaxSteps, Step: bs.Duration.D(), Flood: bs.Flood.D(),
				SubscriberCmd: o.SubscriberCmd}
			if sc.Steps != nil && len(sc.Steps.Rates) > 0 {
				bo.Rates = sc.Steps.Rates // the same rates as edgeplane's steps, for a side-by-side table
			}
			b, err := RunBaseline(ctx, st.MQTTURL(), r.mqtt, ss, bo)
			if err != nil {
				return nil, err
			}
			rep.Baseline = b
			prog.note("baseline: ceiling %s msg/s received without loss; flood: published %s msg/s, received %s msg/s",
				fmtRate(b.ReceiveRate), fmtRate(b.Flood.PublishRate), fmtRate(b.Flood.ReceiveRate))
		}
	}
	if err := r.phases(ctx); err != nil {
		return nil, err
	}
	rep.finish()
	return rep, nil
}

type publisher interface {
	Run(ctx context.Context, l Load) (*PhaseResult, error)
}

type runner struct {
	sc    *Scenario
	ss    *SensorSet
	st    *Stack
	rep   *Report
	prog  *progress
	log   *slog.Logger
	pub   publisher
	mqtt  *MQTTPublisher
	stats *PubStats
	col   *Collector
}

// phases runs the warm-up, then the fixed-rate phase or the steps.
func (r *runner) phases(ctx context.Context) error {
	sc := r.sc
	if sc.Warmup > 0 {
		rate := sc.Rate
		if sc.Steps != nil {
			rate = sc.Steps.Start
		}
		if _, err := r.phaseFor(ctx, "warm-up", rate, sc.Warmup.D(), true); err != nil {
			return err
		}
	}
	if sc.Steps == nil {
		name := "run"
		if sc.Rate <= 0 {
			name = "max rate"
		}
		r.rep.Headline.Limit = LimitFixed
		_, err := r.phase(ctx, name, sc.Rate)
		return err
	}
	h := &r.rep.Headline
	var base float64
	if r.rep.Baseline != nil {
		base = r.rep.Baseline.ReceiveRate
	}
	n := 0
	var err error
	h.Limit, h.LimitDetail, err = searchRate(sc.Steps, base, func(rate float64) (*PhaseReport, error) {
		n++
		return r.phase(ctx, fmt.Sprintf("step %d", n), rate)
	})
	if h.Limit == LimitGenerator {
		r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("stepping stopped at step %d: %s", n, h.LimitDetail))
	}
	return err
}

// phase publishes at rate for the scenario's duration, waits for its
// aggregates, and reconciles it.
func (r *runner) phase(ctx context.Context, name string, rate float64) (*PhaseReport, error) {
	return r.phaseFor(ctx, name, rate, r.sc.Duration.D(), false)
}

func (r *runner) phaseFor(ctx context.Context, name string, rate float64, d time.Duration, warmup bool) (*PhaseReport, error) {
	sc := r.sc
	winMs := sc.Pipeline.Window.Ms()
	oooMs := sc.Pipeline.OutOfOrderness.Ms()
	before, err := r.st.Counters(ctx)
	if err != nil {
		return nil, err
	}
	usage0 := r.usage()
	r.col.MaxLagMs.Store(0)
	start := time.Now()
	pctx, stopProg := context.WithCancel(ctx)
	progDone := make(chan struct{})
	go func() { defer close(progDone); r.progressLoop(pctx, name, rate, d, before) }()
	var outage *OutageResult
	if o := sc.Outage; o != nil {
		outage = &OutageResult{At: o.At.D().Seconds(), For: o.For.D().Seconds()}
		if err := r.st.SetKafkaOutage(false); err != nil {
			stopProg()
			<-progDone
			return nil, err
		}
		t1 := time.AfterFunc(o.At.D(), func() { _ = r.st.SetKafkaOutage(true); r.prog.note("kafka outage: every produce fails now") })
		t2 := time.AfterFunc(o.At.D()+o.For.D(), func() { _ = r.st.SetKafkaOutage(false); r.prog.note("kafka outage over") })
		defer t1.Stop()
		defer t2.Stop()
		go r.watchBacklog(pctx, outage)
	}
	res, err := r.pub.Run(ctx, Load{Sensors: r.ss, Faults: sc.Faults, Rate: rate, Duration: d,
		WindowMs: winMs, MinTs: start.UnixMilli(), SampleEvery: sc.SampleEvery})
	if err != nil {
		stopProg()
		<-progDone
		return nil, err
	}
	pubEnd := time.Now()
	var heap []HeapShare
	if u := r.st.HTTPURL(); u != "" {
		if heap, err = HeapByComponent(ctx, u); err != nil {
			r.prog.note("heap profile: %v", err)
		}
	}
	settled, err := r.settle(ctx, res.Ledger, pubEnd)
	stopProg()
	<-progDone
	if err != nil {
		return nil, err
	}
	after, err := r.st.Counters(ctx)
	if err != nil {
		return nil, err
	}
	usage1 := r.usage()
	gw := after.Sub(before)
	counted, first := r.col.snapshot(res.Ledger.Cells)
	rec := Reconcile(r.ss, res.Ledger, counted, gw)
	if !r.st.HasCounters() {
		rec.Notes = append(rec.Notes, "no gateway counters: rejected, late and dropped readings cannot be told apart from losses")
	}
	ph := &PhaseReport{
		Name: name, Offered: rate, Achieved: res.Rate(), Seconds: res.Elapsed.Seconds(),
		Messages: res.Ledger.Messages, Frames: res.Ledger.Frames, Readings: rec.Sent,
		Reconciliation: rec, Gateway: gw, Settled: settled, SettleSeconds: time.Since(pubEnd).Seconds(),
		DeliveryLagMaxMs: r.col.MaxLagMs.Load(), Warmup: warmup, Heap: heap, Latency: MeasureLatency(r.ss, res.Ledger, first, winMs, oooMs, res.Ledger.MaxTs), Outage: outage,
	}
	if ph.Seconds > 0 {
		ph.CountedRate = float64(rec.Counted) / ph.Seconds
	}
	for i, p := range r.st.Procs() {
		if usage0[i].err != nil || usage1[i].err != nil {
			continue
		}
		d := Delta(usage0[i].u, usage1[i].u, usage1[i].at.Sub(usage0[i].at), rec.Sent)
		ph.Resources = append(ph.Resources, ProcReport{Role: p.Role, InProcess: p.InProcess, UsageDelta: d})
	}
	if r.st.Mode == ModeEmbedded {
		rt := ReadRuntime()
		ph.Runtime = &rt
	} else if after.Goroutines > 0 {
		ph.Runtime = &RuntimeStats{Goroutines: int(after.Goroutines), GCCount: uint32(after.GCCount), GCPauseMaxRecent: after.GCPauseMaxS * 1e3, Scraped: true}
		if held := after.GoSys - after.GoHeapReleased; after.GoSys > 0 && held >= after.GoHeapInuse+after.GoStack {
			rt := ph.Runtime
			rt.HeapInuse, rt.Stacks = after.GoHeapInuse, after.GoStack
			rt.HeapFree = after.GoHeapIdle - min(after.GoHeapIdle, after.GoHeapReleased)
			rt.RuntimeOther = held - min(held, rt.HeapInuse+rt.HeapFree+rt.Stacks)
		}
	}
	ph.judge(sc)
	r.rep.Phases = append(r.rep.Phases, *ph)
	r.prog.done(ph)
	return ph, nil
}

type usageAt struct {
	u   ProcUsage
	at  time.Time
	err error
}

func (r *runner) usage() []usageAt {
	procs := r.st.Procs()
	out := make([]usageAt, len(procs))
	for i, p := range procs {
		u, err := p.Proc.Usage()
		out[i] = usageAt{u: u, at: time.Now(), err: err}
	}
	return out
}

// settle waits for the aggregates of every window in led: until the
// collector counts what the ledger expects, or — once the last window
// must have fired (end + out_of_orderness + idle timeout + 2 s) — until
// nothing new arrived for 2 s and the collector has read every record the
// gateway says it forwarded; at most the scenario's Settle. It reports
// whether the wait ended before the bound.
func (r *runner) settle(ctx context.Context, led *Ledger, pubEnd time.Time) (bool, error) {
	sc := r.sc
	var expected uint64
	for k, c := range led.Cells {
		expected += uint64(r.ss.Readings(k.Series)) * uint64(max(int64(c.Sent)-int64(c.Late)-int64(c.Malformed)-int64(c.Failed), 0))
	}
	earliest := pubEnd.Add(sc.Pipeline.Window.D() + sc.Pipeline.OutOfOrderness.D() + sc.Pipeline.IdleTimeout.D() + 2*time.Second)
	deadline := pubEnd.Add(sc.Settle.D())
	var last uint64
	lastChange := time.Now()
	for {
		counted := r.col.CountedIn(led.Cells)
		now := time.Now()
		if counted != last {
			last, lastChange = counted, now
		}
		if counted == expected && now.After(pubEnd.Add(sc.Pipeline.Window.D())) {
			// A last short look, for stray surplus.
			return true, nil
		}
		if now.After(earliest) && now.Sub(lastChange) >= 2*time.Second {
			c, err := r.st.Counters(ctx)
			if err == nil && (c.KafkaRecords == 0 || r.col.Records.Load() >= c.KafkaRecords) && c.BufferMessages == 0 {
				return true, nil
			}
		}
		if now.After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// watchBacklog records the JetStream backlog's peak during an outage.
func (r *runner) watchBacklog(ctx context.Context, o *OutageResult) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c, err := r.st.Counters(ctx)
		if err != nil {
			continue
		}
		if c.BufferBytes > o.PeakBacklogBytes {
			o.PeakBacklogBytes = c.BufferBytes
		}
		if c.BufferMessages > o.PeakBacklogFrames {
			o.PeakBacklogFrames = c.BufferMessages
		}
	}
}

// progressLoop prints the live line once a second.
func (r *runner) progressLoop(ctx context.Context, name string, rate float64, d time.Duration, base Counters) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	start := time.Now()
	m0 := r.stats.Messages.Load()
	gwUnit := ""
	if r.sc.Transport == TransportWS {
		gwUnit = "frames" // the WebSocket source counts frames as messages
	}
	prevMsgs, prevGw := m0, base.Messages
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c, err := r.st.Counters(ctx)
		if err != nil && !errors.Is(err, context.Canceled) {
			r.log.Debug("counters", "err", err)
		}
		msgs := r.stats.Messages.Load()
		r.prog.line(progressFigures{
			phase: name, offered: rate, elapsed: time.Since(start), duration: d,
			sent: msgs - m0, sendRate: float64(msgs - prevMsgs), gwRate: float64(c.Messages - prevGw),
			rejected: c.Rejected - base.Rejected, late: c.Late - base.Late, aggregates: r.col.Records.Load(),
			backlog: c.BufferMessages, gwUnit: gwUnit,
		})
		prevMsgs, prevGw = msgs, c.Messages
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
