package bench

import (
	"context"
	"math"
	"time"
)

// BaselineResult is the MQTT ingest ceiling of the host: what a bare paho
// subscriber that does nothing with the messages receives from the same
// broker, fed by the same publishers. Like edgeplane's steps, it steps a
// paced rate up while the subscriber receives every message; the ceiling
// is the highest rate it received without loss. A final flood at the
// publishers' maximum rate is reported beside it.
type BaselineResult struct {
	// ReceiveRate is the ceiling: the highest receive rate of a step
	// (or of the flood) in which every message arrived.
	ReceiveRate float64        `json:"receive_rate"`
	Steps       []BaselineStep `json:"steps"`
	Flood       BaselineStep   `json:"flood"`
	QoS         int            `json:"qos"`
	Connections int            `json:"connections"`
	TopicPrefix string         `json:"topic_prefix"`
	// Process: the subscriber ran as a process of its own (edgebench
	// subscribe, decoding every payload with encoding/json), and each
	// step has its CPU and memory figures.
	Process bool `json:"process"`
}

// BaselineStep is one baseline measurement.
type BaselineStep struct {
	Offered     float64 `json:"offered_rate"` // 0: maximum
	Published   uint64  `json:"published"`
	Received    uint64  `json:"received"`
	Seconds     float64 `json:"seconds"`
	PublishRate float64 `json:"publish_rate"`
	ReceiveRate float64 `json:"receive_rate"`
	Lossless    bool    `json:"lossless"`
	// Resources are the subscriber process's figures over the step (CPU
	// per million messages received); nil when it ran in edgebench.
	Resources *UsageDelta `json:"resources,omitempty"`
}

// baselinePrefix keeps the baseline's topics out of the gateway's
// subscriptions (city/… and v3/…).
const baselinePrefix = "edgebench/baseline/"

// withTopicPrefix returns a copy of ss whose series publish under prefix.
func (ss *SensorSet) withTopicPrefix(prefix string) *SensorSet {
	c := *ss
	c.Series = make([]Series, len(ss.Series))
	for i, s := range ss.Series {
		s.Topic = prefix + s.Topic
		s.Values = append([]float64(nil), s.Values...)
		c.Series[i] = s
	}
	return &c
}

// BaselineOptions shape RunBaseline.
type BaselineOptions struct {
	QoS int
	// Start is the first paced rate; each lossless step doubles it, up to
	// MaxSteps steps of Step each, then one bisection step.
	Start    float64
	MaxSteps int
	Step     time.Duration
	// Flood is the length of the final maximum-rate measurement (0: none).
	Flood time.Duration
	// Rates, when given, are the paced steps' rates instead of Start
	// doubling (every one is run).
	Rates []float64
	// SubscriberCmd, when given, runs the subscriber as that command
	// (edgebench subscribe) so that its CPU and memory can be measured;
	// else it runs in this process and only counts.
	SubscriberCmd []string
}

// RunBaseline measures the ceiling: ss is published (under baselinePrefix)
// through pub while a bare subscriber on broker counts what arrives.
func RunBaseline(ctx context.Context, broker string, pub *MQTTPublisher, ss *SensorSet, o BaselineOptions) (*BaselineResult, error) {
	var sub bareSub
	var err error
	if len(o.SubscriberCmd) > 0 {
		sub, err = newProcSub(ctx, o.SubscriberCmd, broker, baselinePrefix+"#", o.QoS)
	} else {
		sub, err = newInProcSub(broker, baselinePrefix+"#", o.QoS)
	}
	if err != nil {
		return nil, err
	}
	defer sub.close()
	pss := ss.withTopicPrefix(baselinePrefix)
	b := &BaselineResult{QoS: o.QoS, Connections: pub.Connections(), TopicPrefix: baselinePrefix, Process: sub.proc() != nil}
	step := func(rate float64, d time.Duration) (BaselineStep, error) {
		before := sub.count()
		var u0 ProcUsage
		t0 := time.Now()
		if p := sub.proc(); p != nil {
			u0, _ = p.Usage()
		}
		res, err := pub.Run(ctx, Load{Sensors: pss, Rate: rate, Duration: d, WindowMs: 1000, SampleEvery: 1 << 30})
		if err != nil {
			return BaselineStep{}, err
		}
		// The tail: until nothing came for 300 ms (at most 10 s).
		deadline := time.Now().Add(10 * time.Second)
		for prev := sub.count(); time.Now().Before(deadline); {
			time.Sleep(300 * time.Millisecond)
			cur := sub.count()
			if cur == prev {
				break
			}
			prev = cur
		}
		s := BaselineStep{Offered: rate, Published: res.Ledger.Messages, Received: sub.count() - before,
			Seconds: res.Elapsed.Seconds(), PublishRate: res.Rate()}
		if p := sub.proc(); p != nil {
			if u1, err := p.Usage(); err == nil {
				d := Delta(u0, u1, time.Since(t0), s.Received)
				s.Resources = &d
			}
		}
		s.ReceiveRate = float64(s.Received) / s.Seconds
		s.Lossless = s.Received >= s.Published && (rate <= 0 || s.PublishRate >= 0.97*rate)
		if s.Lossless {
			b.ReceiveRate = max(b.ReceiveRate, s.ReceiveRate)
		}
		return s, nil
	}
	good, bad := 0.0, 0.0
	for _, rate := range o.Rates {
		s, err := step(rate, o.Step)
		if err != nil {
			return nil, err
		}
		b.Steps = append(b.Steps, s)
	}
	rate := o.Start
	for i := 0; len(o.Rates) == 0 && i < o.MaxSteps && rate > 0; i++ {
		s, err := step(rate, o.Step)
		if err != nil {
			return nil, err
		}
		b.Steps = append(b.Steps, s)
		if !s.Lossless {
			bad = rate
			if good > 0 {
				break
			}
			rate /= 2
			continue
		}
		good = rate
		rate *= 2
	}
	if good > 0 && bad > good {
		s, err := step(math.Round((good+bad)/2), o.Step)
		if err != nil {
			return nil, err
		}
		b.Steps = append(b.Steps, s)
	}
	if o.Flood > 0 {
		s, err := step(0, o.Flood)
		if err != nil {
			return nil, err
		}
		b.Flood = s
	}
	return b, nil
}
