package bench

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// WriteMarkdown writes r for people: the headline first, then the
// environment, the configuration and every phase's figures.
func (r *Report) WriteMarkdown(w io.Writer) error {
	b := &strings.Builder{}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	sc := r.Scenario
	p("# edgebench report: %s\n\n", sc.Name)
	if sc.Description != "" {
		p("%s\n\n", sc.Description)
	}
	p("Started %s, ran %.0f s, target `%s`.\n\n", r.Started.UTC().Format(time.RFC3339), r.Seconds, r.Target.Mode)
	if r.Skipped != "" {
		p("**Not run:** %s.\n\n", r.Skipped)
	}

	if len(r.Phases) > 0 {
		h := &r.Headline
		p("## Headline\n\n")
		rate := "none sustained"
		if h.SustainedFound {
			rate = fmtRate(h.SustainedRate) + " msg/s"
		}
		base, ratio := "–", "–"
		if h.BaselineRate > 0 {
			base = fmtRate(h.BaselineRate) + " msg/s"
		}
		if h.RatioToBase > 0 {
			ratio = fmt.Sprintf("%.2f", h.RatioToBase)
		}
		p("| sustained rate | readings/s | bare subscriber | ratio | unexplained | edgeplane CPU s / M readings | edgeplane peak RSS | latency p50 / p99 | processing p50 / p99 |\n")
		p("|---|---|---|---|---|---|---|---|---|\n")
		p("| %s | %s | %s | %s | %d | %.2f | %s | %s / %s ms | %s / %s ms |\n\n", rate, fmtRate(h.ReadingsRate), base, ratio,
			h.Unexplained, h.CPUPerMillion, fmtBytes(h.PeakRSS), fmtMs(h.LatencyP50), fmtMs(h.LatencyP99),
			fmtMs(h.ProcessingP50), fmtMs(h.ProcessingP99))
		if h.BrokerPeakRSS > 0 {
			p("Broker: %.2f CPU s / M readings, peak RSS %s; edgeplane + broker: %.2f CPU s / M readings, %s.\n\n",
				h.BrokerCPUPerM, fmtBytes(h.BrokerPeakRSS), h.CPUPerMillion+h.BrokerCPUPerM, fmtBytes(h.PeakRSS+h.BrokerPeakRSS))
		}
		if h.Limit != "" && h.Limit != LimitFixed {
			p("**Search stopped: %s** — %s.\n\n", limitTitle(h.Limit), h.LimitDetail)
		}
		if h.GeneratorBound {
			p("The generator could not offer more on this host: the sustained rate is a lower bound for edgeplane. ")
		}
		if r.Scenario != nil && r.Scenario.Transport == TransportWS {
			p("From phase %q. Rates are messages per second, a message being one readings object of a WebSocket frame of up to %d (readings/s counts every field). ", h.Phase, max(r.Scenario.PerFrame, 1))
		} else {
			p("From phase %q. Rates are MQTT messages per second (readings/s counts every field). ", h.Phase)
		}
		p("Latency is publish → Kafka record timestamp of the aggregate's first emission; processing latency subtracts the window's own wait (window end + out_of_orderness − publish time).")
		if h.InProcess {
			p(" edgeplane ran inside the benchmark process: its CPU and memory include the generator and the Kafka consumer.")
		}
		p("\n\n")
		if r.Chart != "" {
			p("![offered vs sustained rate and latency](%s)\n\n", r.Chart)
		}
	}

	p("## Environment\n\n| | |\n|---|---|\n")
	e := &r.Env
	p("| host | %s |\n| os/arch | %s/%s, kernel %s |\n| cpu | %s × %d (GOMAXPROCS %d) |\n| memory | %s |\n| go | %s |\n| edgebench | %s |\n",
		e.Host, e.OS, e.Arch, orDash(e.Kernel), orDash(e.CPUModel), e.CPUs, e.GOMAXPROCS, fmtBytes(e.MemTotal), e.GoVersion, e.Edgebench)
	mods := make([]string, 0, len(e.Modules))
	for m := range e.Modules {
		mods = append(mods, m)
	}
	sort.Strings(mods)
	for _, m := range mods {
		p("| %s | %s |\n", m, e.Modules[m])
	}
	p("\n## Target\n\n- mode: `%s`\n- MQTT broker: `%s`\n- Kafka: `%s`, topic `%s`\n", r.Target.Mode, r.Target.MQTT,
		strings.Join(r.Target.Kafka, ","), r.Target.Topic)
	if r.Target.WS != "" {
		p("- WebSocket: `%s`\n", r.Target.WS)
	}
	if len(r.Target.Processes) > 0 {
		p("- processes measured: %s\n", strings.Join(r.Target.Processes, ", "))
	}
	for _, n := range r.Target.Notes {
		p("- note: %s\n", n)
	}

	p("\n## Configuration\n\n| | |\n|---|---|\n")
	p("| transport | %s, %d connection(s), QoS %d, broker %s", sc.Transport, sc.Connections, sc.QoS, sc.Broker)
	if sc.Transport == TransportWS {
		p(", %d per frame, %s", max(sc.PerFrame, 1), orDefault(sc.Framing, FramingJSON))
	}
	p(" |\n| sensors | %d series of %s, %d districts, format %s, skew ±%s |\n", sc.Sensors.Series,
		strings.Join(sc.Sensors.Types, ", "), sc.Sensors.Districts, sc.Sensors.Format, sc.Sensors.Skew.D())
	f := sc.Faults
	p("| faults | out of order %s (by ≤ %s), late %s (by %s), duplicate %s, malformed %s |\n", pct(f.OutOfOrder), f.Disorder.D(),
		pct(f.Late), f.LateBy.D(), pct(f.Duplicate), pct(f.Malformed))
	pl := sc.Pipeline
	p("| pipeline | tumbling %s, out_of_orderness %s, idle_timeout %s, %d shard(s), ring %d (%s), aggregates [%s] |\n", pl.Window.D(),
		pl.OutOfOrderness.D(), pl.IdleTimeout.D(), pl.Shards, pl.RingCapacity, pl.RingPolicy, strings.Join(pl.Aggregates, ", "))
	switch {
	case sc.Steps != nil && len(sc.Steps.Rates) > 0:
		s := sc.Steps
		rates := make([]string, len(s.Rates))
		for i, r := range s.Rates {
			rates[i] = fmtRate(r)
		}
		p("| load | steps of %s at %s msg/s, until one is not sustained, + %d refinement(s); a step is sustained with 0 unexplained, no ring drops and processing p99 ≤ %s; one where the generator reached < %.0f%% of the offered rate is generator-bound |\n",
			sc.Duration.D(), strings.Join(rates, ", "), s.Refine, sc.MaxProcessingP99.D(), 100*s.MinAchieved)
	case sc.Steps != nil:
		s := sc.Steps
		p("| load | steps of %s from %s msg/s ×%g, ≤ %d steps + %d refinement(s); a step is sustained with 0 unexplained, no ring drops and processing p99 ≤ %s; one where the generator reached < %.0f%% of the offered rate is generator-bound |\n",
			sc.Duration.D(), fmtRate(s.Start), s.Factor, s.MaxSteps, s.Refine, sc.MaxProcessingP99.D(), 100*s.MinAchieved)
	case sc.Rate > 0:
		p("| load | %s msg/s for %s |\n", fmtRate(sc.Rate), sc.Duration.D())
	default:
		p("| load | maximum rate for %s |\n", sc.Duration.D())
	}
	if sc.Outage != nil {
		p("| outage | Kafka produce fails from %s for %s |\n", sc.Outage.At.D(), sc.Outage.For.D())
	}
	if sc.Warmup > 0 {
		p("| warm-up | %s at the first rate, not judged |\n", sc.Warmup.D())
	}
	p("| latency sample | 1 message in %d |\n", sc.SampleEvery)

	if b := r.Baseline; b != nil {
		p("\n## Baseline: bare paho subscriber\n\n")
		if b.Process {
			p("The same publishers into the same broker, on topics the gateway does not subscribe to (`%s#`), read by a paho subscriber in a process of its own (`edgebench subscribe`) that decodes each payload with encoding/json and does nothing else (QoS %d). ", b.TopicPrefix, b.QoS)
		} else {
			p("The same publishers into the same broker, on topics the gateway does not subscribe to (`%s#`), read by a paho subscriber that only counts (QoS %d). ", b.TopicPrefix, b.QoS)
		}
		p("The ceiling is the highest rate received without loss: **%s msg/s**.\n\n", fmtRate(b.ReceiveRate))
		p("| step | offered msg/s | published | received | publish rate | receive rate | lossless | CPU s / M msgs | peak RSS |\n|---|---|---|---|---|---|---|---|---|\n")
		res := func(s BaselineStep) (string, string) {
			if s.Resources == nil {
				return "–", "–"
			}
			return fmt.Sprintf("%.2f", s.Resources.CPUPerMilli), fmtBytes(s.Resources.PeakRSS) + " (" + fmtRSS(*s.Resources) + ")"
		}
		for i, s := range b.Steps {
			cpu, rss := res(s)
			p("| %d | %s | %s | %s | %s | %s | %v | %s | %s |\n", i+1, fmtRateOrMax(s.Offered), fmtCount(s.Published), fmtCount(s.Received),
				fmtRate(s.PublishRate), fmtRate(s.ReceiveRate), s.Lossless, cpu, rss)
		}
		if s := b.Flood; s.Published > 0 {
			cpu, rss := res(s)
			p("| flood | max | %s | %s | %s | %s | %v | %s | %s |\n", fmtCount(s.Published), fmtCount(s.Received),
				fmtRate(s.PublishRate), fmtRate(s.ReceiveRate), s.Lossless, cpu, rss)
		}
		r.writeSideBySide(p)
	}

	if len(r.Phases) > 0 {
		p("\n## Phases\n\n")
		p("| phase | offered msg/s | achieved msg/s | readings sent | counted | rejected | late | dropped | unexplained | windows exact | latency p50 / p99 ms | processing p50 / p99 ms | edgeplane CPU s/M | verdict |\n")
		p("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for i := range r.Phases {
			ph := &r.Phases[i]
			rc := &ph.Reconciliation
			cpu := "–"
			for _, pr := range ph.Resources {
				if pr.Role == "edgeplane" {
					cpu = fmt.Sprintf("%.2f", pr.CPUPerMilli)
				}
			}
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %d | %s / %s | %s / %s | %s / %s | %s | %s |\n", ph.Name,
				fmtRateOrMax(ph.Offered), fmtRate(ph.Achieved), fmtCount(rc.Sent), fmtCount(rc.Counted), fmtCount(rc.Rejected),
				fmtCount(rc.Late), fmtCount(rc.RingDropped), rc.Unexplained, fmtCount(uint64(rc.WindowsExact)), fmtCount(uint64(rc.Windows)),
				fmtMs(ph.Latency.Raw.P50), fmtMs(ph.Latency.Raw.P99), fmtMs(ph.Latency.Processing.P50),
				fmtMs(ph.Latency.Processing.P99), cpu, ph.Verdict)
		}
		for i := range r.Phases {
			r.writePhase(p, &r.Phases[i])
		}
	}
	if len(r.Notes) > 0 {
		p("\n## Notes\n\n")
		for _, n := range r.Notes {
			p("- %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Report) writePhase(p func(string, ...any), ph *PhaseReport) {
	rc := &ph.Reconciliation
	p("\n### %s\n\n", ph.Name)
	p("%s msg/s offered, %s achieved over %.1f s (%s messages", fmtRateOrMax(ph.Offered), fmtRate(ph.Achieved), ph.Seconds, fmtCount(ph.Messages))
	if ph.Frames != ph.Messages {
		p(" in %s frames", fmtCount(ph.Frames))
	}
	p("); aggregates settled %.1f s after publishing stopped%s. **%s.**\n\n", ph.SettleSeconds, map[bool]string{true: "", false: " (timed out)"}[ph.Settled], ph.Verdict)
	p("| readings | count |\n|---|---|\n")
	p("| sent (incl. %s duplicate copies) | %s |\n", fmtCount(rc.Duplicates), fmtCount(rc.Sent))
	p("| counted in aggregates (highest revision) | %s |\n", fmtCount(rc.Counted))
	p("| rejected by the gateway (%s messages; generator spoiled %s readings) | %s |\n", fmtCount(rc.RejectedMessages), fmtCount(rc.IntendedMalformed), fmtCount(rc.Rejected))
	p("| late (generator stamped %s late) | %s |\n", fmtCount(rc.IntendedLate), fmtCount(rc.Late))
	p("| dropped by rings | %s |\n", fmtCount(rc.RingDropped))
	p("| series refused | %s |\n", fmtCount(rc.SeriesRefused))
	if rc.OperatorsRefused > 0 || rc.ClosedRefused > 0 {
		p("| refused by operators / closed rings | %s / %s |\n", fmtCount(rc.OperatorsRefused), fmtCount(rc.ClosedRefused))
	}
	if rc.PublishFailed > 0 {
		p("| publish failed | %s |\n", fmtCount(rc.PublishFailed))
	}
	p("| **unexplained** | **%d** |\n\n", rc.Unexplained)
	p("Per window: %s series-windows, %s exact, %s short, %s over.\n", fmtCount(uint64(rc.Windows)), fmtCount(uint64(rc.WindowsExact)),
		fmtCount(uint64(rc.WindowsShort)), fmtCount(uint64(rc.WindowsOver)))
	if n := ph.Gateway.SketchesRefused; n > 0 {
		p("\n%s windows found the gateway's quantile sketch pool empty: their aggregates carry no quantiles (edgeplane_operators_sketches_refused_total).\n", fmtCount(n))
	}
	if len(rc.Deviations) > 0 {
		p("\n| series | window start | expected | counted |\n|---|---|---|---|\n")
		for _, d := range rc.Deviations {
			p("| %s | %s | %d | %d |\n", d.Series, time.UnixMilli(d.Start).UTC().Format("15:04:05.000"), d.Expected, d.Counted)
		}
	}
	for _, n := range rc.Notes {
		p("\n- %s", n)
	}
	if len(rc.Notes) > 0 {
		p("\n")
	}
	l := &ph.Latency
	p("\n| latency (ms) | samples | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|\n")
	p("| raw | %d | %s | %s | %s | %s |\n", l.Raw.Samples, fmtMs(l.Raw.P50), fmtMs(l.Raw.P90), fmtMs(l.Raw.P99), fmtMs(l.Raw.Max))
	p("| processing | %d | %s | %s | %s | %s |\n", l.Processing.Samples, fmtMs(l.Processing.P50), fmtMs(l.Processing.P90), fmtMs(l.Processing.P99), fmtMs(l.Processing.Max))
	p("\nLargest delay from an aggregate's emission to edgebench reading it from Kafka: %s ms.\n", fmtMs(float64(ph.DeliveryLagMaxMs)))
	if l.Early > 0 {
		p("\n%d sampled readings' aggregates were emitted before their window's end + out_of_orderness by the wall clock (sensor clocks ahead move the watermark early); their processing latency counts as 0.\n", l.Early)
	}
	if l.Tail > 0 {
		p("\n%d sampled readings of the last windows (closed by the idle timeout after publishing stopped) are left out.\n", l.Tail)
	}
	if l.Missing > 0 {
		p("\n%d sampled readings had no aggregate.\n", l.Missing)
	}
	if len(ph.Resources) > 0 {
		p("\n| process | CPU s | CPU %% of a core | CPU s / M readings | RSS (anon + file) | peak RSS |\n|---|---|---|---|---|---|\n")
		for _, pr := range ph.Resources {
			role := pr.Role
			if pr.InProcess {
				role += " (with generator)"
			}
			p("| %s | %.2f | %.0f | %.2f | %s | %s |\n", role, pr.CPUSeconds, pr.CPUPercent, pr.CPUPerMilli, fmtRSS(pr.UsageDelta), fmtBytes(pr.PeakRSS))
		}
	}
	if len(ph.Heap) > 0 {
		var total int64
		for _, h := range ph.Heap {
			total += h.Bytes
		}
		p("\nThe gateway's live Go heap when publishing stopped, by component (heap profile after a forced GC; each allocation charged to the nearest named package on its stack): %s in all.\n\n| component | live heap | share |\n|---|---|---|\n", fmtBytes(uint64(total)))
		for _, h := range ph.Heap {
			p("| %s | %s | %.0f%% |\n", h.Component, fmtBytes(uint64(h.Bytes)), 100*float64(h.Bytes)/float64(total))
		}
	}
	if rt := ph.Runtime; rt != nil && rt.Scraped {
		p("\nGo runtime of edgeplane (from /metrics): %d goroutines, %d GCs so far, longest of the last 256 GC pauses %.2f ms.\n",
			rt.Goroutines, rt.GCCount, rt.GCPauseMaxRecent)
		if rt.HeapInuse > 0 {
			p("Memory the Go runtime holds at the end of the phase: heap spans in use %s (live objects and garbage not yet collected), free heap spans not yet returned %s, stacks %s, runtime metadata and caches %s",
				fmtBytes(rt.HeapInuse), fmtBytes(rt.HeapFree), fmtBytes(rt.Stacks), fmtBytes(rt.RuntimeOther))
			held := rt.HeapInuse + rt.HeapFree + rt.Stacks + rt.RuntimeOther
			for _, pr := range ph.Resources {
				if pr.Role == "edgeplane" && pr.AnonRSS > 0 {
					p("; the anonymous RSS beyond it, %s, is memory outside the Go runtime — the off-heap window state written so far — less runtime memory not resident", fmtBytes(pr.AnonRSS-min(pr.AnonRSS, held)))
				}
			}
			p(".\n")
		}
	} else if rt != nil {
		p("\nGo runtime: %d goroutines, %d GCs so far, GC stop-the-world p99 %.2f ms, max %.2f ms (longest of the last 256 pauses: %.2f ms).\n",
			rt.Goroutines, rt.GCCount, rt.GCPauseP99, rt.GCPauseMax, rt.GCPauseMaxRecent)
	}
	if o := ph.Outage; o != nil {
		p("\nKafka outage from %.0f s for %.0f s: JetStream backlog peaked at %s frames, %s; every aggregate arrived afterwards: %v.\n",
			o.At, o.For, fmtCount(o.PeakBacklogFrames), fmtBytes(o.PeakBacklogBytes), rc.Unexplained == 0 && ph.Settled)
	}
	if len(ph.Gateway.RejectedByReason) > 0 {
		var rs []string
		for k, v := range ph.Gateway.RejectedByReason {
			rs = append(rs, fmt.Sprintf("%s %d", k, v))
		}
		sort.Strings(rs)
		p("\nRejections by reason: %s.\n", strings.Join(rs, ", "))
	}
}

func fmtMs(v float64) string {
	if v == 0 {
		return "0"
	}
	if v >= 100 || v <= -100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func fmtBytes(n uint64) string {
	switch {
	case n == 0:
		return "–"
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
}

func pct(f float64) string { return fmt.Sprintf("%g%%", f*100) }

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// limitTitle names a Headline.Limit for people.
func limitTitle(l string) string {
	switch l {
	case LimitEdgeplane:
		return "edgeplane's limit found"
	case LimitBroker:
		return "the broker's limit, not edgeplane's"
	case LimitGenerator:
		return "the generator's limit, not edgeplane's"
	case LimitMaxRate:
		return "the scenario's max_rate reached, no limit found"
	case LimitStepCap:
		return "the step cap reached, no limit found"
	case LimitNone:
		return "nothing sustained"
	}
	return l
}

// writeSideBySide writes, when the baseline's subscriber was measured as
// a process and ran at the rates of edgeplane's steps, one row per rate:
// CPU per million messages and peak RSS of each, and of the broker.
func (r *Report) writeSideBySide(p func(string, ...any)) {
	b := r.Baseline
	if b == nil || !b.Process {
		return
	}
	header := false
	for i := range r.Phases {
		ph := &r.Phases[i]
		if ph.Warmup || ph.Messages == 0 {
			continue
		}
		var bs *BaselineStep
		for j := range b.Steps {
			if b.Steps[j].Offered == ph.Offered && b.Steps[j].Resources != nil {
				bs = &b.Steps[j]
			}
		}
		if bs == nil {
			continue
		}
		var ep, br *ProcReport
		for k := range ph.Resources {
			switch ph.Resources[k].Role {
			case "edgeplane":
				ep = &ph.Resources[k]
			case "broker":
				br = &ph.Resources[k]
			}
		}
		if ep == nil {
			continue
		}
		if !header {
			p("\nSide by side, per offered rate (CPU per million MQTT messages; edgeplane's includes decoding, windows and forwarding to Kafka):\n\n")
			p("| offered msg/s | edgeplane CPU s / M msgs | bare subscriber CPU s / M msgs | edgeplane peak RSS (RSS at the end: anon + file) | bare subscriber peak RSS (anon + file) | broker CPU s / M msgs (edgeplane's step) |\n|---|---|---|---|---|---|\n")
			header = true
		}
		brCPU := "–"
		if br != nil {
			brCPU = fmt.Sprintf("%.2f", br.CPUSeconds/float64(ph.Messages)*1e6)
		}
		p("| %s | %.2f | %.2f | %s (%s) | %s (%s) | %s |\n", fmtRate(ph.Offered), ep.CPUSeconds/float64(ph.Messages)*1e6,
			bs.Resources.CPUPerMilli, fmtBytes(ep.PeakRSS), fmtRSS(ep.UsageDelta), fmtBytes(bs.Resources.PeakRSS), fmtRSS(*bs.Resources), brCPU)
	}
	if header && r.Headline.InProcess {
		p("\nedgeplane ran inside edgebench here (--target embedded): its figures include the generator and the Kafka consumer; use --target subprocess.\n")
	}
}

// fmtRSS is a process's RSS with its anonymous and file-backed parts, when
// known.
func fmtRSS(u UsageDelta) string {
	if u.AnonRSS == 0 && u.FileRSS == 0 {
		return fmtBytes(u.RSS)
	}
	return fmt.Sprintf("%s = %s + %s", fmtBytes(u.RSS), fmtBytes(u.AnonRSS), fmtBytes(u.FileRSS))
}
