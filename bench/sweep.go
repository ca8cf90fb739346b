package bench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Sweep is one scenario run at several series counts (edgebench run
// --series 1000,10000,100000): how memory and CPU grow with the series a
// gateway holds.
type Sweep struct {
	Reports []*Report
}

// NewSweep collects the reports of one sweep, in series order.
func NewSweep(reps []*Report) *Sweep { return &Sweep{Reports: reps} }

// sweepRow is the figures of one series count, from its last sustained
// phase (else its last phase).
type sweepRow struct {
	series                    int
	rate                      float64
	peakRSS, rss, anon, file  uint64
	heap                      int64
	windows                   int64
	cpuPerM                   float64
	unexplained               int64
	sustained, inProcess, any bool
}

func (sw *Sweep) rows() []sweepRow {
	var rows []sweepRow
	for _, r := range sw.Reports {
		row := sweepRow{series: r.Scenario.Sensors.Series}
		var ph *PhaseReport
		for i := range r.Phases {
			if !r.Phases[i].Warmup {
				ph = &r.Phases[i]
				if ph.Sustained {
					break
				}
			}
		}
		if ph != nil {
			row.any, row.sustained, row.rate = true, ph.Sustained, ph.Achieved
			row.unexplained = ph.Reconciliation.Unexplained
			for _, h := range ph.Heap {
				row.heap += h.Bytes
				if strings.HasPrefix(h.Component, "operators") {
					row.windows += h.Bytes
				}
			}
			for _, p := range ph.Resources {
				if p.Role == "edgeplane" {
					row.peakRSS, row.rss, row.anon, row.file = p.PeakRSS, p.RSS, p.AnonRSS, p.FileRSS
					row.cpuPerM, row.inProcess = p.CPUPerMilli, p.InProcess
				}
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// WriteMarkdown writes the sweep's table and the RSS growth per 1,000
// series between consecutive counts.
func (sw *Sweep) WriteMarkdown(w io.Writer) error {
	b := &strings.Builder{}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	if len(sw.Reports) == 0 {
		return nil
	}
	r0 := sw.Reports[0]
	p("# edgebench series sweep: %s\n\n", r0.Scenario.Name)
	p("Started %s, target `%s`; one run per series count, figures from each run's last sustained phase (live heap: heap profile after a forced GC when publishing stopped).\n\n",
		r0.Started.UTC().Format("2006-01-02T15:04:05Z"), r0.Target.Mode)
	p("| series | msg/s | sustained | unexplained | edgeplane peak RSS | RSS at the end (anon + file) | live Go heap | of it window state | CPU s / M readings |\n|---|---|---|---|---|---|---|---|---|\n")
	rows := sw.rows()
	for _, row := range rows {
		if !row.any {
			p("| %d | – | – | – | – | – | – | – | – |\n", row.series)
			continue
		}
		p("| %s | %s | %v | %d | %s | %s = %s + %s | %s | %s | %.2f |\n", fmtCount(uint64(row.series)), fmtRate(row.rate), row.sustained, row.unexplained,
			fmtBytes(row.peakRSS), fmtBytes(row.rss), fmtBytes(row.anon), fmtBytes(row.file), fmtBytes(uint64(row.heap)), fmtBytes(uint64(row.windows)), row.cpuPerM)
	}
	p("\nGrowth per 1,000 additional series:\n\n")
	for i := 1; i < len(rows); i++ {
		a, c := rows[i-1], rows[i]
		if !a.any || !c.any || c.series <= a.series {
			continue
		}
		k := float64(c.series-a.series) / 1000
		p("- %s → %s series: peak RSS %+.2f MiB, anonymous RSS %+.2f MiB, live heap %+.2f MiB per 1,000 series\n",
			fmtCount(uint64(a.series)), fmtCount(uint64(c.series)),
			(float64(c.peakRSS)-float64(a.peakRSS))/k/(1<<20), (float64(c.anon)-float64(a.anon))/k/(1<<20), (float64(c.heap)-float64(a.heap))/k/(1<<20))
	}
	if rows[0].inProcess {
		p("\nedgeplane ran inside edgebench (--target embedded): its figures include the generator; use --target subprocess.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Save writes <dir>/<scenario>-series-sweep-<UTC time>.md.
func (sw *Sweep) Save(dir string) (string, error) {
	if len(sw.Reports) == 0 {
		return "", fmt.Errorf("bench: empty sweep")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	r0 := sw.Reports[0]
	path := filepath.Join(dir, fmt.Sprintf("%s-series-sweep-%s.md", r0.Scenario.Name, r0.Started.Format("20060102T150405Z")))
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := sw.WriteMarkdown(f); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}
