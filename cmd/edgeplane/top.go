package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/edgeplane/edgeplane/pipeline"
)

// topSnap is one poll of the read API.
type topSnap struct {
	gw    pipeline.GatewayInfo
	pipes struct {
		Time      int64                   `json:"time"`
		Pipelines []pipeline.PipelineInfo `json:"pipelines"`
	}
}

func cmdTop(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("top", stderr)
	client := apiFlags(fs)
	interval := fs.Duration("interval", time.Second, "refresh interval")
	n := fs.Int("n", 0, "stop after N refreshes (0: until Ctrl-C)")
	plain := fs.Bool("plain", false, "plain lines, one block per refresh, even on a terminal")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *interval <= 0 {
		fmt.Fprintln(stderr, "edgeplane top: -interval must be positive")
		return errUsage
	}
	c, err := client()
	if err != nil {
		return err
	}
	term := !*plain && isTerminal(stdout)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var prev *topSnap
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	for i := 0; *n == 0 || i < *n; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
		}
		cur := &topSnap{}
		err := c.getJSON(ctx, "/v1/gateway", &cur.gw)
		if err == nil {
			err = c.getJSON(ctx, "/v1/pipelines", &cur.pipes)
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if prev == nil {
				return err // nothing to show: the gateway is not there
			}
			fmt.Fprintf(stdout, "edgeplane top: %v\n", err)
			continue
		}
		var b strings.Builder
		renderTop(&b, prev, cur)
		if term {
			fmt.Fprint(stdout, "\x1b[H\x1b[2J")
		} else if i > 0 {
			fmt.Fprintln(stdout)
		}
		if _, err := io.WriteString(stdout, b.String()); err != nil {
			return err
		}
		prev = cur
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// renderTop writes one screen: the rates are the counters' increase from
// prev to cur over the time between their answers (the gateway's clock),
// "-" on the first screen.
func renderTop(w io.Writer, prev, cur *topSnap) {
	g := &cur.gw
	ready := "ready"
	if !g.Ready.Ready {
		ready = "NOT READY: " + strings.Join(g.Ready.Problems, "; ")
	}
	fmt.Fprintf(w, "edgeplane top — gateway %s, up %s, %s, %s\n", g.ID,
		(time.Duration(g.UptimeSeconds) * time.Second).String(), time.UnixMilli(g.Time).UTC().Format(time.RFC3339), ready)
	rate := func(cur, prev uint64, dtMs int64) string {
		if dtMs <= 0 || cur < prev {
			return "-"
		}
		return fmt.Sprintf("%.1f", float64(cur-prev)*1000/float64(dtMs))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tTYPE\tCONN\tMSG/S\tREADINGS/S\tREJ/S\tREJECTED")
	for _, s := range g.Sources {
		var p *pipeline.SourceInfo
		dt := int64(0)
		if prev != nil {
			dt = g.Time - prev.gw.Time
			for i := range prev.gw.Sources {
				if prev.gw.Sources[i].Name == s.Name {
					p = &prev.gw.Sources[i]
				}
			}
		}
		conn := "down"
		if s.Connected {
			conn = "up"
		}
		mr, rr, jr := "-", "-", "-"
		if p != nil {
			mr, rr, jr = rate(s.Messages, p.Messages, dt), rate(s.Readings, p.Readings, dt), rate(s.Rejected, p.Rejected, dt)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", s.Name, s.Type, conn, mr, rr, jr, s.Rejected)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PIPELINE\tREADINGS/S\tLATE/S\tFIRED/S\tWM LAG\tRING\tOPEN\tSERIES\tBACKLOG")
	for _, pi := range cur.pipes.Pipelines {
		var p *pipeline.PipelineInfo
		dt := int64(0)
		if prev != nil {
			dt = cur.pipes.Time - prev.pipes.Time
			for i := range prev.pipes.Pipelines {
				if prev.pipes.Pipelines[i].Name == pi.Name {
					p = &prev.pipes.Pipelines[i]
				}
			}
		}
		rr, lr, fr := "-", "-", "-"
		if p != nil {
			rr = rate(pi.Counters.Samples, p.Counters.Samples, dt)
			lr = rate(pi.Counters.Late, p.Counters.Late, dt)
			fr = rate(pi.Counters.WindowsFired, p.Counters.WindowsFired, dt)
		}
		lag := "-"
		if pi.Watermark.LagSeconds != nil {
			lag = (time.Duration(*pi.Watermark.LagSeconds*10) * time.Second / 10).String()
		}
		fill := 0.0
		for _, s := range pi.Shards {
			fill = max(fill, s.RingFill)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.0f%%\t%d\t%d\t%d\n", pi.Name, rr, lr, fr, lag, fill*100,
			pi.Counters.OpenWindows, pi.Series.Known, pi.Backlog)
	}
	_ = tw.Flush()
	b := &g.Buffer
	fmt.Fprintf(w, "\njetstream backlog: %d frames, %d aggregates, %d late events, %s, oldest %.1fs\n",
		b.Messages, b.Aggregates, b.LateEvents, humanBytes(b.Bytes), b.OldestAgeSeconds)
	k := &g.Kafka
	kr := "-"
	if prev != nil {
		kr = rate(k.Items, prev.gw.Kafka.Items, g.Time-prev.gw.Time)
	}
	state := "ok"
	if k.Failing {
		state = "FAILING"
	}
	fmt.Fprintf(w, "kafka: %s items/s (drain %.1f/s over 5s), %d records, %d record errors, %s\n", kr, k.DrainRate, k.Records, k.Errors, state)
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
