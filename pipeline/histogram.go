package pipeline

import (
	"fmt"
	"io"
	"strconv"
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
	buckets [len(latencyBounds) + 1]atomic.Uint64
	count   atomic.Uint64
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
	h.count.Add(1)
	h.sumNs.Add(uint64(d))
}

func (h *histogram) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s\n# TYPE %s histogram\n", h.name, h.name)
	var cum uint64
	for i := range h.buckets {
		cum += h.buckets[i].Load()
		le := "+Inf"
		if i < len(latencyBounds) {
			le = strconv.FormatFloat(latencyBounds[i], 'g', -1, 64)
		}
		fmt.Fprintf(w, "%s_bucket{le=%q} %d\n", h.name, le, cum)
	}
	fmt.Fprintf(w, "%s_sum %s\n%s_count %d\n", h.name,
		strconv.FormatFloat(float64(h.sumNs.Load())/1e9, 'g', -1, 64), h.name, h.count.Load())
}
