package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

func cmdTap(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("tap", stderr)
	client := apiFlags(fs)
	pipe := fs.String("pipeline", "", "only this pipeline's events (rejects: of the sources feeding it)")
	source := fs.String("source", "", "only this source's readings, late readings and rejects")
	series := fs.String("series", "", "only series whose key matches this glob ('*' any run, '?' one byte)")
	kind := fs.String("kind", "", "comma-separated kinds: reading, reject, late, aggregate (default all)")
	rate := fs.Int("rate", 0, "at most this many events per second (default 100; the gateway caps it at 1000)")
	sample := fs.Uint64("sample", 0, "keep one in N matching events (before the rate)")
	sse := fs.Bool("sse", false, "ask for server-sent events instead of NDJSON (printed as received)")
	n := fs.Int("n", 0, "stop after N events (0: until Ctrl-C); tap_stats lines do not count")
	stats := fs.Bool("stats", false, "print the tap's tap_stats lines too (every second: sent, sampled out, rate limited, dropped)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	c, err := client()
	if err != nil {
		return err
	}
	q := url.Values{}
	for k, v := range map[string]string{"pipeline": *pipe, "source": *source, "series": *series, "kind": *kind} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if *rate > 0 {
		q.Set("rate", strconv.Itoa(*rate))
	}
	if *sample > 0 {
		q.Set("sample", strconv.FormatUint(*sample, 10))
	}
	if *sse {
		q.Set("format", "sse")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	resp, err := c.get(ctx, "/v1/tap?"+q.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	seen := 0
	for sc.Scan() {
		line := sc.Bytes()
		isStats := isTapStats(line)
		if isStats && !*stats {
			continue
		}
		if _, err := fmt.Fprintf(stdout, "%s\n", line); err != nil {
			return err
		}
		if !isStats && len(line) > 0 {
			seen++
			if *n > 0 && seen >= *n {
				return nil
			}
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("tap: %w", err)
	}
	return nil
}

func isTapStats(line []byte) bool {
	const k = `"kind":"tap_stats"`
	for i := 0; i+len(k) <= len(line) && i < 16; i++ {
		if string(line[i:i+len(k)]) == k {
			return true
		}
	}
	return false
}
