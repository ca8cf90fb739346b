package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ProcUsage is a process's resource use at one instant.
type ProcUsage struct {
	CPU     time.Duration // user + system CPU time since the process started
	RSS     uint64        // resident set, bytes
	PeakRSS uint64        // high-water resident set, bytes
	// AnonRSS and FileRSS split RSS: the process's own memory (heap,
	// stacks), and the pages of files it maps — mostly its binary, clean
	// pages the kernel can drop and read again, which grow with the
	// binary's size, not with the load.
	AnonRSS, FileRSS uint64
}

// Proc reads one process's usage.
type Proc interface {
	Usage() (ProcUsage, error)
}

// SelfProc is this process, from getrusage(RUSAGE_SELF) and
// /proc/self/statm.
type SelfProc struct{}

// Usage implements Proc.
func (SelfProc) Usage() (ProcUsage, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return ProcUsage{}, fmt.Errorf("bench: getrusage: %w", err)
	}
	u := ProcUsage{
		CPU:     time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		PeakRSS: uint64(ru.Maxrss) * 1024, // Linux reports KiB
	}
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			pages, _ := strconv.ParseUint(f[1], 10, 64)
			u.RSS = pages * uint64(os.Getpagesize())
		}
	}
	u.PeakRSS = max(u.PeakRSS, u.RSS)
	u.AnonRSS, u.FileRSS = rssSplit("/proc/self/status")
	return u, nil
}

// rssSplit reads RssAnon and RssFile (bytes) from a /proc status file.
func rssSplit(path string) (anon, file uint64) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseUint(f[1], 10, 64)
		switch f[0] {
		case "RssAnon:":
			anon = v * 1024
		case "RssFile:":
			file = v * 1024
		}
	}
	return anon, file
}

// PidProc is another process, from /proc/<pid>/stat and status.
type PidProc struct{ Pid int }

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// Usage implements Proc.
func (p PidProc) Usage() (ProcUsage, error) {
	var u ProcUsage
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid))
	if err != nil {
		return u, fmt.Errorf("bench: process %d: %w", p.Pid, err)
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 of the whole line.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return u, fmt.Errorf("bench: process %d: unreadable stat", p.Pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return u, fmt.Errorf("bench: process %d: short stat", p.Pid)
	}
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	u.CPU = time.Duration(ut+st) * time.Second / clockTicks
	s, err := os.Open(fmt.Sprintf("/proc/%d/status", p.Pid))
	if err != nil {
		return u, err
	}
	defer s.Close()
	sc := bufio.NewScanner(s)
	for sc.Scan() {
		line := sc.Text()
		kb := func() uint64 {
			f := strings.Fields(line)
			if len(f) < 2 {
				return 0
			}
			v, _ := strconv.ParseUint(f[1], 10, 64)
			return v * 1024
		}
		switch {
		case strings.HasPrefix(line, "VmHWM:"):
			u.PeakRSS = kb()
		case strings.HasPrefix(line, "VmRSS:"):
			u.RSS = kb()
		case strings.HasPrefix(line, "RssAnon:"):
			u.AnonRSS = kb()
		case strings.HasPrefix(line, "RssFile:"):
			u.FileRSS = kb()
		}
	}
	u.PeakRSS = max(u.PeakRSS, u.RSS)
	return u, sc.Err()
}

// RuntimeStats are this process's Go runtime figures.
type RuntimeStats struct {
	Goroutines int     `json:"goroutines"`
	GCCount    uint32  `json:"gc_count"`
	GCPauseP99 float64 `json:"gc_pause_p99_ms"`
	GCPauseMax float64 `json:"gc_pause_max_ms"`
	HeapBytes  uint64  `json:"heap_bytes"`
	// GCPauseMaxRecent is the longest of the last 256 stop-the-world
	// pauses (MemStats.PauseNs); the histogram figures above include the
	// time to stop the world, which grows when the CPUs are oversubscribed.
	GCPauseMaxRecent float64 `json:"gc_pause_max_recent_ms"`
	// Scraped figures come from another process's /metrics, which has
	// only GCPauseMaxRecent of the pause figures.
	Scraped bool `json:"scraped,omitempty"`
	// The Go runtime's memory at the end of the phase (scraped): heap
	// spans in use, heap spans free and still held, stacks, and the rest
	// of what it holds from the OS (GC metadata, caches) — together
	// go_memstats_sys_bytes less what was returned.
	HeapInuse, HeapFree, Stacks, RuntimeOther uint64 `json:",omitempty"`
}

// ReadRuntime reads this process's goroutines and GC figures. The pause
// percentiles come from the runtime's pause histogram since start
// (/sched/pauses/total/gc:seconds), bucket upper bounds.
func ReadRuntime() RuntimeStats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rs := RuntimeStats{Goroutines: runtime.NumGoroutine(), GCCount: ms.NumGC, HeapBytes: ms.HeapAlloc}
	for _, p := range ms.PauseNs {
		rs.GCPauseMaxRecent = max(rs.GCPauseMaxRecent, float64(p)/1e6)
	}
	s := []metrics.Sample{{Name: "/sched/pauses/total/gc:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindFloat64Histogram {
		h := s[0].Value.Float64Histogram()
		var total uint64
		for _, c := range h.Counts {
			total += c
		}
		var run uint64
		for i, c := range h.Counts {
			if c == 0 {
				continue
			}
			run += c
			hi := h.Buckets[i+1]
			if hi > 10 { // +Inf or absurd: use the bucket's low edge
				hi = h.Buckets[i]
			}
			if rs.GCPauseP99 == 0 && float64(run) >= 0.99*float64(total) {
				rs.GCPauseP99 = hi * 1e3
			}
			rs.GCPauseMax = hi * 1e3
		}
	}
	return rs
}

// UsageDelta is resource use over a phase.
type UsageDelta struct {
	CPUSeconds  float64 `json:"cpu_seconds"`
	PeakRSS     uint64  `json:"peak_rss_bytes"`
	RSS         uint64  `json:"rss_bytes"`
	CPUPercent  float64 `json:"cpu_percent"` // of one core, averaged over the phase
	CPUPerMilli float64 `json:"cpu_s_per_million_readings"`
	// AnonRSS and FileRSS split RSS at the end (ProcUsage).
	AnonRSS uint64 `json:"anon_rss_bytes,omitempty"`
	FileRSS uint64 `json:"file_rss_bytes,omitempty"`
}

// Delta returns the use between a and b over elapsed, per million of
// readings.
func Delta(a, b ProcUsage, elapsed time.Duration, readings uint64) UsageDelta {
	d := UsageDelta{CPUSeconds: (b.CPU - a.CPU).Seconds(), PeakRSS: b.PeakRSS, RSS: b.RSS, AnonRSS: b.AnonRSS, FileRSS: b.FileRSS}
	if elapsed > 0 {
		d.CPUPercent = 100 * d.CPUSeconds / elapsed.Seconds()
	}
	if readings > 0 {
		d.CPUPerMilli = d.CPUSeconds / (float64(readings) / 1e6)
	}
	return d
}
