package bench

import (
	"math/rand/v2"
	"time"
)

// Faults are the fractions of messages a generator spoils on purpose, so
// that the reconciliation has known causes to find. Each message gets at
// most one fault (tested in the order malformed, late, duplicate,
// out-of-order).
type Faults struct {
	// OutOfOrder messages are stamped up to Disorder before their
	// publish time: out of order, but within the watermark bound when
	// Disorder is below out_of_orderness. Default Disorder: half the
	// scenario's out_of_orderness.
	OutOfOrder float64  `yaml:"out_of_order" json:"out_of_order"`
	Disorder   Duration `yaml:"disorder" json:"disorder"`
	// Late messages are stamped LateBy before their publish time, behind
	// the watermark: edgeplane counts them as late events. Default
	// LateBy: out_of_orderness + window size + 2s.
	Late   float64  `yaml:"late" json:"late"`
	LateBy Duration `yaml:"late_by" json:"late_by"`
	// Duplicate messages are published twice (both copies count, since
	// the benchmark pipeline does not deduplicate).
	Duplicate float64 `yaml:"duplicate" json:"duplicate"`
	// Malformed messages are cut in half: edgeplane rejects them.
	Malformed float64 `yaml:"malformed" json:"malformed"`
}

// msgKind is what the generator made of one message.
type msgKind uint8

const (
	kindNormal msgKind = iota
	kindLate
	kindMalformed
	kindDuplicate
)

// generator produces the messages of one publishing worker: its share of
// the series, round robin, with faults, recording each in its ledger. It
// is owned by one goroutine.
type generator struct {
	ss     *SensorSet
	format string
	faults Faults
	series []int32
	next   int
	rng    *rand.Rand
	led    *Ledger
	buf    []byte

	disorderMs, lateByMs int64
	// minTs is the earliest event time the generator may stamp: the
	// step's start, so that faults never touch a window another step
	// already reconciled.
	minTs       int64
	sampleEvery int
	sampleN     int
	// wsKey, when set, encodes the series key into JSON payloads for
	// transports without topics.
	wsKey bool
	// lastTs and lastKind describe the last message.
	lastTs   int64
	lastKind msgKind
}

// newGenerator returns worker w's generator of n workers: series i with
// i%n == w.
func newGenerator(ss *SensorSet, faults Faults, w, n int, led *Ledger, sampleEvery int) *generator {
	g := &generator{ss: ss, format: ss.Spec.Format, faults: faults, led: led, sampleEvery: sampleEvery,
		rng: rand.New(rand.NewPCG(ss.Spec.Seed+uint64(w)*0x9e3779b97f4a7c15, uint64(w)+1)),
		buf: make([]byte, 0, 2048), disorderMs: faults.Disorder.Ms(), lateByMs: faults.LateBy.Ms()}
	for i := w; i < len(ss.Series); i += n {
		g.series = append(g.series, int32(i))
	}
	if g.sampleEvery <= 0 {
		g.sampleEvery = 16
	}
	// Stagger the workers' samples.
	g.sampleN = w % g.sampleEvery
	return g
}

// message encodes the next message at publish time now (nowMs is its
// millisecond) and records it. The payload is valid until the next call;
// when dup is set the caller publishes it twice.
func (g *generator) message(now time.Time, nowMs int64) (s *Series, payload []byte, dup bool) {
	idx := g.series[g.next]
	g.next++
	if g.next == len(g.series) {
		g.next = 0
	}
	s = &g.ss.Series[idx]
	s.advance(g.rng)
	ts := nowMs + s.SkewMs
	kind := kindNormal
	f := &g.faults
	if f.Malformed > 0 || f.Late > 0 || f.Duplicate > 0 || f.OutOfOrder > 0 {
		u := g.rng.Float64()
		switch {
		case u < f.Malformed:
			kind = kindMalformed
		case u < f.Malformed+f.Late:
			if t := ts - g.lateByMs; t >= g.minTs {
				ts, kind = t, kindLate
			}
		case u < f.Malformed+f.Late+f.Duplicate:
			kind = kindDuplicate
		case u < f.Malformed+f.Late+f.Duplicate+f.OutOfOrder:
			ts = max(ts-1-g.rng.Int64N(max(g.disorderMs, 1)), g.minTs)
		}
	}
	if g.wsKey {
		g.buf = appendKeyedJSON(g.buf[:0], s, ts)
	} else {
		g.buf = AppendPayload(g.buf[:0], g.format, s, ts)
	}
	g.lastTs, g.lastKind = ts, kind
	if ts > g.led.MaxTs {
		g.led.MaxTs = ts
	}
	start := g.led.WindowStart(ts)
	c := g.led.cell(idx, start)
	c.Sent++
	g.led.Messages++
	switch kind {
	case kindMalformed:
		c.Malformed++
		g.buf = g.buf[:len(g.buf)/2]
	case kindLate:
		c.Late++
	case kindDuplicate:
		c.Sent++
		c.Duplicates++
		g.led.Messages++
		dup = true
	}
	if kind == kindNormal || kind == kindDuplicate {
		g.sampleN++
		if g.sampleN >= g.sampleEvery {
			g.sampleN = 0
			g.led.Samples = append(g.led.Samples, LatencySample{Series: idx, Start: start, PubNs: now.UnixNano()})
		}
	}
	return s, g.buf, dup
}
