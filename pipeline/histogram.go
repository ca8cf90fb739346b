package pipeline

import (
	"sync/atomic"
	"time"
)

// latencyBounds are the upper bounds (seconds) of the latency histogram's
// buckets: from a flush linger to a long uplink outage.
var latencyBounds = [...]float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200}

// histogram is a Prometheus histogram with fixed `le` buckets, safe for
// concurrent Observe (atomics only). VictoriaMetrics/metrics' own
// histogram exposes vmrange buckets, which Prometheus' histogram_quantile
// cannot read.
type histogram struct {
	name    string
	help    string
	buckets [len(latencyBounds) + 1]atomic.Uint64
	sumNs   atomic.Uint64
}

func (h *histogram) observe(d time.Duration) {
	if d < 0 {
		d = 0
	}
	s := d.Seconds()
	i := 0
	for i < len(latencyBounds) && s > latencyBounds[i] {
		i++
	}
	h.buckets[i].Add(1)
	h.sumNs.Add(uint64(d))
}

// collect adds the histogram's family to e: cumulative le buckets, the sum
// in seconds and the count.
func (h *histogram) collect(e *exposition) {
	f := e.fam(h.name, "histogram", h.help)
	var cum uint64
	for i := range h.buckets {
		cum += h.buckets[i].Load()
		le := "+Inf"
		if i < len(latencyBounds) {
			le = formatFloat(latencyBounds[i])
		}
		f.sample("_bucket", labels("le", le), formatUint(cum))
	}
	f.sample("_sum", "", formatFloat(float64(h.sumNs.Load())/1e9))
	f.sample("_count", "", formatUint(cum)) // = the +Inf bucket, even while observe runs
}
