package config

import (
	"fmt"
	"strings"

	"github.com/edgeplane/edgeplane/operators"
	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/ring"
	"github.com/edgeplane/edgeplane/sink"
)

// FixedMemory is the part of the Go runtime's memory that does not
// depend on the pipelines' bounds, for a gateway.memory_limit of limit:
// an idle baseline and franz-go's produce buffer.
//
// The baseline (16 MiB) is the runtime itself (stacks, GC metadata), the
// embedded nats-server with JetStream and its MQTT listener, the franz-go
// client and the HTTP server. Measured on linux/amd64 with `edgeplane run
// -c configs/demo.yaml` (three pipelines, three sources connected, Kafka
// unreachable, idle): go_memstats_sys_bytes − go_memstats_heap_released_bytes
// = 33.1 MiB, of which the pipelines' state really allocated was 21.9 MiB
// (MemoryEstimate's windows and sketches, the rings' shared lanes and the
// three producer lanes taken): 11.2 MiB, rounded up to 16 MiB for
// JetStream's block cache and decode buffers under load.
//
// franz-go buffers up to sink.KafkaBufferFor(limit) of records while
// Kafka is slow or away (16 MiB at the default limit).
func FixedMemory(limit int64) int64 {
	return fixedBaselineBytes + int64(sink.KafkaBufferFor(limit))
}

const fixedBaselineBytes = 16 << 20

// MemoryEstimate is what a compiled configuration needs of
// gateway.memory_limit: every pipeline's preallocated state and the fixed
// part. It is what validation checks against the limit and what /metrics
// shows as edgeplane_memory_state_bytes.
type MemoryEstimate struct {
	Limit     int64
	Fixed     int64
	Pipelines []PipelineMemory
}

// PipelineMemory is one pipeline's preallocated state, in bytes, by
// component: its operators' windows and sketches (operators.StateMemory)
// and its rings (every producer lane taken, ring.MPSCMaxBytes).
type PipelineMemory struct {
	Name      string
	MaxSeries int
	Fields    int
	State     operators.StateMemory
	RingBytes int64 // one ring
	Shards    int64
}

// Windows, Sketches and Rings are the pipeline's components, in bytes.
func (p PipelineMemory) Windows() int64  { return p.State.Windows() }
func (p PipelineMemory) Sketches() int64 { return p.State.SketchPool() }
func (p PipelineMemory) Rings() int64    { return p.Shards * p.RingBytes }

// Total is the pipeline's preallocated state.
func (p PipelineMemory) Total() int64 { return p.Windows() + p.Sketches() + p.Rings() }

// State is the pipelines' preallocated state together.
func (m MemoryEstimate) State() int64 {
	var n int64
	for _, p := range m.Pipelines {
		n += p.Total()
	}
	return n
}

// Total is State + Fixed.
func (m MemoryEstimate) Total() int64 { return m.State() + m.Fixed }

// OffHeap is the part of State outside the Go heap: the operators' window
// state and sketches (operators/arena.go). The Go runtime's memory limit
// does not see it.
func (m MemoryEstimate) OffHeap() int64 {
	var n int64
	for _, p := range m.Pipelines {
		n += p.Windows() + p.Sketches()
	}
	return n
}

// GoLimit is the Go runtime's soft memory limit that keeps the whole
// process within Limit: Limit less the off-heap state, which the runtime
// does not count, and which may all become resident. Validation makes
// sure it still holds the rest (rings and the fixed part).
func (m MemoryEstimate) GoLimit() int64 { return m.Limit - m.OffHeap() }

// Memory returns the memory estimate of the compiled configuration.
func (c *Compiled) Memory() MemoryEstimate {
	limit := int64(c.Config.Gateway.MemoryLimit)
	m := MemoryEstimate{Limit: limit, Fixed: FixedMemory(limit)}
	for _, pp := range c.Pipelines {
		m.Pipelines = append(m.Pipelines, PipelineMemory{
			Name:      pp.Config.Name,
			MaxSeries: pp.Operators.MaxSeries,
			Fields:    pp.Operators.Fields,
			State:     pp.Operators.StateMemory(),
			RingBytes: ring.MPSCMaxBytes[record.Sample](pp.Ring),
			Shards:    int64(pp.Shards),
		})
	}
	return m
}

// arithmetic shows how the pipeline's state adds up.
func (p PipelineMemory) arithmetic() string {
	s := p.State
	var w []string
	w = append(w, fmt.Sprintf("max_series %d × fields %d = %d keys × %d B", p.MaxSeries, p.Fields, s.Keys, s.KeyBytes))
	w = append(w, fmt.Sprintf("%d window slots × %d B", s.Slots, s.SlotBytes))
	if s.Series > 0 {
		w = append(w, fmt.Sprintf("%d series clocks × %d B", s.Series, s.SeriesBytes))
	}
	if s.OtherBytes > 0 {
		w = append(w, size(s.OtherBytes)+" of session retractions")
	}
	out := fmt.Sprintf("%s: windows %s (%s × (%s))", p.Name, size(p.Windows()), shards(s.Shards), strings.Join(w, " + "))
	if s.Sketches > 0 {
		out += fmt.Sprintf(", sketches %s (%s × a pool of %d × %s)", size(p.Sketches()), shards(s.Shards), s.Sketches, size(s.SketchBytes))
	}
	out += fmt.Sprintf(", rings %s (%s × %s, every producer lane taken)", size(p.Rings()), shards(p.Shards), size(p.RingBytes))
	return out + " = " + size(p.Total())
}

// check refuses a configuration whose estimate exceeds
// gateway.memory_limit, showing the arithmetic.
func (m MemoryEstimate) check(ps *problems) {
	if m.Limit <= 0 {
		ps.add("gateway.memory_limit", "%d, want a size (e.g. 256MiB)", m.Limit)
		return
	}
	if m.Total() <= m.Limit {
		return
	}
	parts := make([]string, len(m.Pipelines))
	for i, p := range m.Pipelines {
		parts[i] = p.arithmetic()
	}
	ps.add("gateway.memory_limit", "pipelines need %s of preallocated state (%s) + %s fixed (runtime, nats-server, franz-go) = %s > gateway.memory_limit %s: lower max_series, the fields or quantile aggregates, max_open_windows, ring.capacity or ring.shards, or raise memory_limit to at least %dMiB",
		size(m.State()), strings.Join(parts, "; "), size(m.Fixed), size(m.Total()), size(m.Limit), (m.LeastLimit()+1<<20-1)>>20)
}

// LeastLimit is the smallest gateway.memory_limit that holds the state:
// the fixed part grows with the limit (franz-go's buffer,
// sink.KafkaBufferFor), so it is found by iterating to the fixed point,
// which the buffer's ceiling bounds.
func (m MemoryEstimate) LeastLimit() int64 {
	l := m.State() + FixedMemory(0)
	for {
		next := m.State() + FixedMemory(l)
		if next <= l {
			return l
		}
		l = next
	}
}

func shards(n int64) string {
	if n == 1 {
		return "1 shard"
	}
	return fmt.Sprintf("%d shards", n)
}

// MemoryMaxHeadroom is what a cgroup limit (the systemd unit's MemoryMax,
// a container's --memory) needs above gateway.memory_limit: the Go limit
// is soft (the heap overshoots it briefly while the collector catches up)
// and counts only the Go runtime's memory, while the cgroup also charges
// the executable's mapped pages (process_resident_memory_file_bytes, 23 MiB
// for the demo on linux/amd64) and the page cache of JetStream's files,
// which the kernel reclaims before it kills.
const MemoryMaxHeadroom = 64 << 20

// MemoryMax is the cgroup memory limit for a gateway.memory_limit of
// limit: limit + MemoryMaxHeadroom. The packaged unit's MemoryMax is
// MemoryMax of the packaged memory_limit (deploy/config_test.go checks it).
func MemoryMax(limit int64) int64 { return limit + MemoryMaxHeadroom }
