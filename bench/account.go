package bench

import (
	"math"
	"slices"
	"sort"
)

// Reconciliation balances what the generator sent against what edgeplane
// counted in its aggregates and what its counters say it refused. Every
// figure counts readings (one per field of a message) unless it says
// messages.
//
//	unexplained = sent − counted − (rejected + late + ring dropped +
//	              series refused + operators refused + closed refused +
//	              publish failed)
//
// Zero is the headline. Positive: readings vanished without any counter
// saying why (a broker dropping QoS 0 messages, a lost aggregate).
// Negative: more was counted than sent (a window counted twice).
type Reconciliation struct {
	SentMessages uint64 `json:"sent_messages"`
	Sent         uint64 `json:"sent"`
	Counted      uint64 `json:"counted"`

	// What the generator did on purpose.
	IntendedLate      uint64 `json:"intended_late"`
	IntendedMalformed uint64 `json:"intended_malformed"`
	Duplicates        uint64 `json:"duplicates"`
	PublishFailed     uint64 `json:"publish_failed"`

	// What the gateway's counters explain, in readings. Rejected
	// messages are converted with the readings per message of the
	// messages the generator spoiled, and at the run's average for any
	// beyond those.
	RejectedMessages uint64 `json:"rejected_messages"`
	Rejected         uint64 `json:"rejected"`
	Late             uint64 `json:"late"`
	RingDropped      uint64 `json:"ring_dropped"`
	SeriesRefused    uint64 `json:"series_refused"`
	OperatorsRefused uint64 `json:"operators_refused"`
	ClosedRefused    uint64 `json:"closed_refused"`
	Explained        uint64 `json:"explained"`
	Unexplained      int64  `json:"unexplained"`

	// Per window (series × window): how many balance exactly, counting
	// the generator's intended faults, and the largest deviations.
	Windows      int               `json:"windows"`
	WindowsExact int               `json:"windows_exact"`
	WindowsShort int               `json:"windows_short"`
	WindowsOver  int               `json:"windows_over"`
	Deviations   []WindowDeviation `json:"deviations,omitempty"`
	// Notes say which counter disagrees with the intended faults.
	Notes []string `json:"notes,omitempty"`
}

// WindowDeviation is a window whose counted readings differ from what
// was sent minus the generator's intended faults.
type WindowDeviation struct {
	Series   string `json:"series"`
	Start    int64  `json:"start"`
	Expected uint64 `json:"expected"`
	Counted  uint64 `json:"counted"`
}

// maxDeviations bounds Reconciliation.Deviations.
const maxDeviations = 10

// Reconcile balances ledger against counted (readings per series and
// window from the collector) and the gateway counters' change over the
// phase.
func Reconcile(ss *SensorSet, led *Ledger, counted map[CellKey]uint64, gw Counters) Reconciliation {
	var r Reconciliation
	t := led.Totals(ss)
	r.SentMessages, r.Sent = t.SentMessages, t.Sent
	r.IntendedLate, r.IntendedMalformed, r.Duplicates, r.PublishFailed = t.Late, t.Malformed, t.Duplicates, t.Failed

	keys := make([]CellKey, 0, len(led.Cells))
	for k := range led.Cells {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Start != keys[j].Start {
			return keys[i].Start < keys[j].Start
		}
		return keys[i].Series < keys[j].Series
	})
	for _, k := range keys {
		c := led.Cells[k]
		per := uint64(ss.Readings(k.Series))
		got := counted[k]
		r.Counted += got
		r.Windows++
		want := per * uint64(max(int64(c.Sent)-int64(c.Late)-int64(c.Malformed)-int64(c.Failed), 0))
		switch {
		case got == want:
			r.WindowsExact++
			continue
		case got < want:
			r.WindowsShort++
		default:
			r.WindowsOver++
		}
		r.Deviations = append(r.Deviations, WindowDeviation{Series: ss.Series[k.Series].Key, Start: k.Start, Expected: want, Counted: got})
	}
	slices.SortStableFunc(r.Deviations, func(a, b WindowDeviation) int {
		da := math.Abs(float64(a.Expected) - float64(a.Counted))
		db := math.Abs(float64(b.Expected) - float64(b.Counted))
		switch {
		case da > db:
			return -1
		case da < db:
			return 1
		}
		return 0
	})
	if len(r.Deviations) > maxDeviations {
		r.Deviations = r.Deviations[:maxDeviations]
	}

	r.RejectedMessages = gw.Rejected
	switch {
	case gw.Rejected <= t.MalformedMessages && t.MalformedMessages > 0:
		r.Rejected = gw.Rejected * t.Malformed / t.MalformedMessages
	case gw.Rejected > t.MalformedMessages:
		avg := 1.0
		if t.SentMessages > 0 {
			avg = float64(t.Sent) / float64(t.SentMessages)
		}
		r.Rejected = t.Malformed + uint64(math.Round(float64(gw.Rejected-t.MalformedMessages)*avg))
	}
	r.Late, r.RingDropped, r.SeriesRefused = gw.Late, gw.RingDropped, gw.SeriesRefused
	r.OperatorsRefused, r.ClosedRefused = gw.OperatorsRefused, gw.ClosedRefused
	r.Explained = r.Rejected + r.Late + r.RingDropped + r.SeriesRefused + r.OperatorsRefused + r.ClosedRefused + r.PublishFailed
	r.Unexplained = int64(r.Sent) - int64(r.Counted) - int64(r.Explained)

	if gw.Rejected != t.MalformedMessages {
		r.Notes = append(r.Notes, sprintf("gateway rejected %d messages, generator spoiled %d", gw.Rejected, t.MalformedMessages))
	}
	if gw.Late != t.Late {
		r.Notes = append(r.Notes, sprintf("gateway counted %d late readings, generator stamped %d late", gw.Late, t.Late))
	}
	return r
}

// LatencyStats are percentiles in milliseconds over readings.
type LatencyStats struct {
	Samples int     `json:"samples"`
	P50     float64 `json:"p50_ms"`
	P90     float64 `json:"p90_ms"`
	P99     float64 `json:"p99_ms"`
	Max     float64 `json:"max_ms"`
}

// Latency is the two views of end-to-end latency.
type Latency struct {
	// Raw is publish time → Kafka record timestamp of the aggregate's
	// first emission.
	Raw LatencyStats `json:"raw"`
	// Processing is Raw minus the window's own wait (window end +
	// out_of_orderness − publish time): what edgeplane adds. A window can
	// close before its end + out_of_orderness by the wall clock — a
	// sensor clock running ahead brings the watermark there early — and
	// such a sample counts 0 here, and in Early.
	Processing LatencyStats `json:"processing"`
	// Early samples' aggregates were emitted before their window's end +
	// out_of_orderness by the wall clock.
	Early int `json:"early,omitempty"`
	// Missing samples had no aggregate.
	Missing int `json:"missing"`
	// Tail readings were in the last windows of the phase, which close
	// through the idle timeout once publishing stops rather than through
	// newer data; their latency measures the idle fallback, so they are
	// left out of the percentiles.
	Tail int `json:"tail"`
}

// MeasureLatency computes the latencies of led's samples from the first
// emission times (Unix ms per aggregate) read by the collector. Samples of
// windows whose end + oooMs is not before lastMs (the latest event time
// published, Unix ms; 0: no cut) are counted as Tail and left out.
func MeasureLatency(ss *SensorSet, led *Ledger, first map[aggKey]int64, windowMs, oooMs, lastMs int64) Latency {
	var raw, proc []float64
	var l Latency
	for _, s := range led.Samples {
		if lastMs > 0 && s.Start+windowMs+oooMs >= lastMs {
			l.Tail += len(ss.Series[s.Series].Profile.Fields)
			continue
		}
		ser := &ss.Series[s.Series]
		for _, f := range ser.Profile.Fields {
			ts, ok := first[aggKey{series: s.Series, field: int32(ss.fields[f.Name]), start: s.Start}]
			if !ok {
				l.Missing++
				continue
			}
			pub := float64(s.PubNs) / 1e6
			raw = append(raw, float64(ts)-pub)
			wait := ts - (s.Start + windowMs + oooMs)
			if wait < 0 {
				l.Early++
				wait = 0
			}
			proc = append(proc, float64(wait))
		}
	}
	l.Raw, l.Processing = percentiles(raw), percentiles(proc)
	return l
}

func percentiles(v []float64) LatencyStats {
	if len(v) == 0 {
		return LatencyStats{}
	}
	slices.Sort(v)
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(v)))) - 1
		return math.Round(v[max(i, 0)]*10) / 10
	}
	return LatencyStats{Samples: len(v), P50: q(0.5), P90: q(0.9), P99: q(0.99), Max: math.Round(v[len(v)-1]*10) / 10}
}
