package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Counters are the gateway's own accounts of what it did with the
// readings, read from pipeline.Gateway.Snapshot in-process or scraped
// from /metrics. Messages and Rejected count messages; the rest count
// readings (or records).
type Counters struct {
	Messages, Readings uint64
	Rejected           uint64
	RejectedByReason   map[string]uint64 `json:",omitempty"`
	Late               uint64
	RingDropped        uint64
	SeriesRefused      uint64
	// OperatorsRefused are readings the shards refused (max_series,
	// max_open_windows, state budget, event time out of range);
	// ClosedRefused readings pushed while the rings closed.
	OperatorsRefused, ClosedRefused  uint64
	WindowsFired, AggregatesBuffered uint64
	// SketchesRefused are windows that found the quantile sketch pool
	// empty: their aggregates carry no quantiles (scrape only).
	SketchesRefused             uint64 `json:",omitempty"`
	KafkaRecords, KafkaErrors   uint64
	BufferMessages, BufferBytes uint64
	// Process figures of the scraped process (zero in-process).
	Goroutines  uint64  `json:",omitempty"`
	GCPauseMaxS float64 `json:",omitempty"`
	GCPauseSumS float64 `json:",omitempty"`
	GCCount     uint64  `json:",omitempty"`
	CPUSeconds  float64 `json:",omitempty"`
	RSSBytes    uint64  `json:",omitempty"`
	// The Go runtime's memory (gauges): heap spans in use, heap spans
	// free but not yet returned to the OS, goroutine stacks, and all the
	// runtime holds from the OS less what it returned.
	GoHeapInuse, GoHeapIdle, GoHeapReleased, GoStack, GoSys uint64 `json:",omitempty"`
}

// Sub returns c − b for the monotone counters; gauges keep c's value.
func (c Counters) Sub(b Counters) Counters {
	d := c
	d.Messages -= b.Messages
	d.Readings -= b.Readings
	d.Rejected -= b.Rejected
	d.Late -= b.Late
	d.RingDropped -= b.RingDropped
	d.SeriesRefused -= b.SeriesRefused
	d.OperatorsRefused -= b.OperatorsRefused
	d.ClosedRefused -= b.ClosedRefused
	d.WindowsFired -= b.WindowsFired
	d.SketchesRefused -= b.SketchesRefused
	d.AggregatesBuffered -= b.AggregatesBuffered
	d.KafkaRecords -= b.KafkaRecords
	d.KafkaErrors -= b.KafkaErrors
	d.CPUSeconds -= b.CPUSeconds
	d.GCPauseSumS -= b.GCPauseSumS
	d.GCCount -= b.GCCount
	if c.RejectedByReason != nil {
		d.RejectedByReason = map[string]uint64{}
		for k, v := range c.RejectedByReason {
			if v -= b.RejectedByReason[k]; v > 0 {
				d.RejectedByReason[k] = v
			}
		}
	}
	return d
}

// MetricsScraper reads Counters from a gateway's /metrics URL.
type MetricsScraper struct {
	URL    string
	Client *http.Client
}

// Counters scrapes the URL once.
func (m *MetricsScraper) Counters(ctx context.Context) (Counters, error) {
	cl := m.Client
	if cl == nil {
		cl = &http.Client{Timeout: 5 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.URL, nil)
	if err != nil {
		return Counters{}, err
	}
	resp, err := cl.Do(req)
	if err != nil {
		return Counters{}, fmt.Errorf("bench: scrape %s: %w", m.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Counters{}, fmt.Errorf("bench: scrape %s: %s", m.URL, resp.Status)
	}
	return ParseMetrics(resp.Body)
}

// ParseMetrics reads edgeplane's counters from Prometheus text, summing
// over sources and pipelines.
func ParseMetrics(r io.Reader) (Counters, error) {
	c := Counters{RejectedByReason: map[string]uint64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		name, labels := line[:sp], ""
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name, labels = name[:i], name[i:]
		}
		u := uint64(v)
		switch name {
		case "edgeplane_ingest_messages_total":
			c.Messages += u
		case "edgeplane_ingest_readings_total":
			c.Readings += u
		case "edgeplane_ingest_rejected_total":
			c.Rejected += u
			if u > 0 {
				c.RejectedByReason[labelValue(labels, "reason")] += u
			}
		case "edgeplane_operators_late_events_total":
			c.Late += u
		case "edgeplane_ring_dropped_total":
			c.RingDropped += u
		case "edgeplane_ingest_series_refused_total":
			c.SeriesRefused += u
		case "edgeplane_operators_refused_total":
			c.OperatorsRefused += u
		case "edgeplane_ring_closed_refused_total":
			c.ClosedRefused += u
		case "edgeplane_operators_windows_fired_total":
			c.WindowsFired += u
		case "edgeplane_operators_sketches_refused_total":
			c.SketchesRefused += u
		case "edgeplane_sink_aggregates_buffered_total":
			c.AggregatesBuffered += u
		case "edgeplane_sink_kafka_records_total":
			c.KafkaRecords += u
		case "edgeplane_sink_kafka_errors_total":
			c.KafkaErrors += u
		case "edgeplane_sink_buffer_messages":
			c.BufferMessages = u
		case "edgeplane_sink_buffer_bytes":
			c.BufferBytes = u
		case "go_goroutines":
			c.Goroutines = u
		case "go_gc_duration_seconds":
			if labelValue(labels, "quantile") == "1" {
				c.GCPauseMaxS = v
			}
		case "go_gc_duration_seconds_sum":
			c.GCPauseSumS = v
		case "go_gc_duration_seconds_count":
			c.GCCount = u
		case "process_cpu_seconds_total":
			c.CPUSeconds = v
		case "process_resident_memory_bytes":
			c.RSSBytes = u
		case "go_memstats_heap_inuse_bytes":
			c.GoHeapInuse = u
		case "go_memstats_heap_idle_bytes":
			c.GoHeapIdle = u
		case "go_memstats_heap_released_bytes":
			c.GoHeapReleased = u
		case "go_memstats_stack_inuse_bytes":
			c.GoStack = u
		case "go_memstats_sys_bytes":
			c.GoSys = u
		}
	}
	return c, sc.Err()
}

// labelValue returns the value of label k in {a="x",k="y"}.
func labelValue(labels, k string) string {
	i := strings.Index(labels, k+`="`)
	if i < 0 {
		return ""
	}
	s := labels[i+len(k)+2:]
	if j := strings.IndexByte(s, '"'); j >= 0 {
		return s[:j]
	}
	return s
}

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }
