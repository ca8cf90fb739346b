package bench

import (
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

var (
	colOffered   = color.RGBA{R: 120, G: 120, B: 120, A: 255}
	colAchieved  = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	colCounted   = color.RGBA{R: 44, G: 160, B: 44, A: 255}
	colBaseline  = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	colRawP50    = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	colRawP99    = color.RGBA{R: 255, G: 127, B: 14, A: 255}
	colProcP50   = color.RGBA{R: 44, G: 160, B: 44, A: 255}
	colProcP99   = color.RGBA{R: 148, G: 103, B: 189, A: 255}
	chartW       = 26 * vg.Centimeter
	chartH       = 10 * vg.Centimeter
	chartPadding = vg.Centimeter / 2
)

// WriteChart draws two panels as SVG: the offered rate against what the
// generator achieved and what edgeplane counted (in messages/s), with
// the bare-subscriber ceiling; and the latency percentiles per phase.
// Phases are on the x axis in the order they ran.
func (r *Report) WriteChart(w io.Writer) error {
	c := vgsvg.New(chartW, chartH)
	if err := r.drawChart(c); err != nil {
		return err
	}
	_, err := c.WriteTo(w)
	return err
}

// drawChart draws the chart's two panels on c.
func (r *Report) drawChart(c vg.CanvasSizer) error {
	rates := plot.New()
	rates.Title.Text = r.Scenario.Name + ": offered vs sustained"
	rates.X.Label.Text = "phase"
	rates.Y.Label.Text = "messages/s"
	lat := plot.New()
	lat.Title.Text = "latency percentiles"
	lat.X.Label.Text = "phase"
	lat.Y.Label.Text = "ms"

	n := len(r.Phases)
	offered, achieved, counted := make(plotter.XYs, n), make(plotter.XYs, n), make(plotter.XYs, n)
	rp50, rp99, pp50, pp99 := make(plotter.XYs, n), make(plotter.XYs, n), make(plotter.XYs, n), make(plotter.XYs, n)
	var ticks []plot.Tick
	for i, ph := range r.Phases {
		x := float64(i + 1)
		off := ph.Offered
		if off <= 0 {
			off = ph.Achieved
		}
		perMsg := 1.0
		if ph.Messages > 0 {
			perMsg = float64(ph.Readings) / float64(ph.Messages)
		}
		offered[i] = plotter.XY{X: x, Y: off}
		achieved[i] = plotter.XY{X: x, Y: ph.Achieved}
		counted[i] = plotter.XY{X: x, Y: ph.CountedRate / perMsg}
		rp50[i] = plotter.XY{X: x, Y: ph.Latency.Raw.P50}
		rp99[i] = plotter.XY{X: x, Y: ph.Latency.Raw.P99}
		pp50[i] = plotter.XY{X: x, Y: ph.Latency.Processing.P50}
		pp99[i] = plotter.XY{X: x, Y: ph.Latency.Processing.P99}
		label := fmt.Sprintf("%s\n%s/s", ph.Name, fmtRateOrMax(ph.Offered))
		if !ph.Sustained {
			label += "\n(failed)"
		}
		ticks = append(ticks, plot.Tick{Value: x, Label: label})
	}
	if err := addLines(rates, []series{{"offered", offered, colOffered, true}, {"published", achieved, colAchieved, false},
		{"counted by edgeplane", counted, colCounted, false}}); err != nil {
		return err
	}
	if r.Baseline != nil && r.Baseline.ReceiveRate > 0 && n > 0 {
		b := plotter.XYs{{X: 1, Y: r.Baseline.ReceiveRate}, {X: float64(max(n, 2)), Y: r.Baseline.ReceiveRate}}
		if err := addLines(rates, []series{{"bare subscriber ceiling", b, colBaseline, true}}); err != nil {
			return err
		}
	}
	if err := addLines(lat, []series{{"raw p50", rp50, colRawP50, false}, {"raw p99", rp99, colRawP99, false},
		{"processing p50", pp50, colProcP50, true}, {"processing p99", pp99, colProcP99, true}}); err != nil {
		return err
	}
	for _, p := range []*plot.Plot{rates, lat} {
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		p.X.Min, p.X.Max = 0.5, float64(max(n, 1))+0.5
		p.Y.Min = 0
		p.Add(plotter.NewGrid())
	}
	// Rates rise to the right and the ceiling runs along the top: the
	// bottom right is free. Latencies rise to the right: the top left is.
	lat.Legend.Top, lat.Legend.Left = true, true
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: chartPadding, PadY: chartPadding, PadTop: chartPadding, PadBottom: chartPadding, PadLeft: chartPadding, PadRight: chartPadding}
	canvases := plot.Align([][]*plot.Plot{{rates, lat}}, tiles, dc)
	rates.Draw(canvases[0][0])
	lat.Draw(canvases[0][1])
	return nil
}

type series struct {
	name   string
	xy     plotter.XYs
	col    color.Color
	dashed bool
}

func addLines(p *plot.Plot, ss []series) error {
	for _, s := range ss {
		l, pts, err := plotter.NewLinePoints(s.xy)
		if err != nil {
			return err
		}
		l.Color, pts.Color = s.col, s.col
		l.Width = vg.Points(1.5)
		if s.dashed {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(l, pts)
		p.Legend.Add(s.name, l, pts)
	}
	return nil
}
