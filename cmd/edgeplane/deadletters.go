package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/pipeline"
)

// DefaultDeadLetterMaxBytes is how much of a payload `edgeplane
// deadletters` prints by default.
const DefaultDeadLetterMaxBytes = 512

// cmdDeadletters prints the dead-letter stream of a gateway's data_dir.
//
// The store is read where it is safe to: while the gateway runs (it holds
// the store's lock, pipeline.LockStore) through its read API (GET
// /v1/deadletters on gateway.http_listen, with gateway.http_token; the
// NATS listener's clients are sensors and cannot reach JetStream); while
// it is stopped, by opening the store in-process under the same lock
// (pipeline.OpenStore), so a gateway starting meanwhile refuses to start
// instead of sharing the store. Either way an ephemeral ordered consumer
// reads; nothing is acknowledged or removed.
func cmdDeadletters(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("deadletters", stderr)
	file := fs.String("c", "", "config file or directory of the gateway (required)")
	source := fs.String("source", "", "print only this source's dead letters")
	follow := fs.Bool("follow", false, "keep printing new dead letters until interrupted (needs the running gateway)")
	asJSON := fs.Bool("json", false, "print NDJSON: one object per dead letter")
	maxBytes := fs.Int("max-bytes", DefaultDeadLetterMaxBytes, "print at most this many bytes of each payload (0: all); a cut payload is marked truncated")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *file == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "edgeplane deadletters: -c FILE is required, and takes no arguments")
		return errUsage
	}
	cfg, err := config.Load(*file)
	if err != nil {
		return err
	}
	if *source != "" {
		var names []string
		for _, s := range cfg.Sources {
			names = append(names, s.Name)
		}
		if !slices.Contains(names, *source) {
			return fmt.Errorf("no source %q in %s (sources: %s)", *source, *file, strings.Join(names, ", "))
		}
	}
	plan, err := config.Compile(cfg)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	p := dlPrinter{w: w, json: *asJSON, max: *maxBytes}
	print := func(dl *pipeline.DeadLetter) error {
		p.print(dl)
		if *follow { // a line as soon as it arrives
			return w.Flush()
		}
		return nil
	}
	st, err := pipeline.OpenStore(plan)
	if errors.Is(err, pipeline.ErrStoreInUse) {
		return readRunning(ctx, cfg, *file, *source, *follow, print)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	nc, err := st.Server().Connect("edgeplane-deadletters")
	if err != nil {
		return err
	}
	defer nc.Close()
	if *follow {
		fmt.Fprintln(stderr, "edgeplane deadletters: the gateway is not running; printing what its store holds (nothing new can arrive)")
		*follow = false
	}
	err = pipeline.ReadDeadLetters(ctx, nc, pipeline.DeadLetterQuery{Source: *source}, print)
	if errors.Is(err, pipeline.ErrNoDeadLetterStream) {
		fmt.Fprintf(stderr, "edgeplane deadletters: %v (data_dir %s): no source has dead_letter: true, or the gateway has not started on it yet\n", err, cfg.Gateway.DataDir)
		return nil
	}
	return err
}

// readRunning reads a running gateway's dead letters through its read
// API (GET /v1/deadletters), found from its config file.
func readRunning(ctx context.Context, cfg *config.Config, file, source string, follow bool, fn func(*pipeline.DeadLetter) error) error {
	if cfg.Gateway.HTTPListen == "off" {
		return fmt.Errorf("the gateway is running and holds its store (data_dir %s), and gateway.http_listen is off: it can be read only through the gateway's read API, or once the gateway is stopped", cfg.Gateway.DataDir)
	}
	if _, port, err := net.SplitHostPort(cfg.Gateway.HTTPListen); err == nil && port == "0" {
		return fmt.Errorf("the gateway is running and holds its store (data_dir %s); its read API listens on gateway.http_listen %s, a port picked at start that cannot be found from here: set a fixed port", cfg.Gateway.DataDir, cfg.Gateway.HTTPListen)
	}
	fs := newFlagSet("deadletters", io.Discard)
	client := apiFlags(fs)
	if err := fs.Parse([]string{"-c", file}); err != nil {
		return err
	}
	c, err := client()
	if err != nil {
		return err
	}
	path := "/v1/deadletters?source=" + url.QueryEscape(source)
	if follow {
		path += "&follow=1"
	}
	resp, err := c.get(ctx, path)
	if err != nil {
		return fmt.Errorf("the gateway is running; reading its dead letters through its read API: %w", err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var dl pipeline.DeadLetter
		if err := dec.Decode(&dl); err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := fn(&dl); err != nil {
			return err
		}
	}
}

// dlPrinter prints dead letters as text lines or NDJSON.
type dlPrinter struct {
	w    *bufio.Writer
	json bool
	max  int
	b    []byte
}

// dlJSON is the NDJSON form of a dead letter. Payload is the payload as
// text when it is valid UTF-8, else PayloadBase64 holds it.
type dlJSON struct {
	Seq           uint64 `json:"seq"`
	Time          string `json:"time"`
	Source        string `json:"source"`
	Topic         string `json:"topic"`
	Reason        string `json:"reason"`
	Bytes         int    `json:"bytes"`
	Payload       string `json:"payload,omitempty"`
	PayloadBase64 []byte `json:"payload_base64,omitempty"`
	Truncated     bool   `json:"truncated,omitempty"`
}

// print writes one dead letter: in text,
//
//	2026-12-05T22:52:23.123Z source=ws topic=city/d7/air/s-1 reason=malformed bytes=8 payload="not json"
//
// with topic quoted when it holds a space, '"' or '=' (or is empty), the
// payload always quoted (Go escapes), and " truncated=true" after a
// payload cut at max bytes.
func (p *dlPrinter) print(dl *pipeline.DeadLetter) {
	payload, cut := truncate(dl.Payload, p.max)
	if p.json {
		j := dlJSON{Seq: dl.Seq, Time: dl.Time.UTC().Format(time.RFC3339Nano), Source: dl.Source, Topic: dl.Topic,
			Reason: dl.Reason, Bytes: len(dl.Payload), Truncated: cut}
		if utf8.Valid(payload) {
			j.Payload = string(payload)
		} else {
			j.PayloadBase64 = payload
		}
		b, _ := json.Marshal(&j) // cannot fail: strings, numbers, bytes
		p.w.Write(b)
		p.w.WriteByte('\n')
		return
	}
	b := dl.Time.UTC().AppendFormat(p.b[:0], "2006-01-02T15:04:05.000Z07:00")
	b = append(b, " source="...)
	b = appendValue(b, dl.Source)
	b = append(b, " topic="...)
	b = appendValue(b, dl.Topic)
	b = append(b, " reason="...)
	b = appendValue(b, dl.Reason)
	b = append(b, " bytes="...)
	b = strconv.AppendInt(b, int64(len(dl.Payload)), 10)
	b = append(b, " payload="...)
	b = strconv.AppendQuote(b, string(payload))
	if cut {
		b = append(b, " truncated=true"...)
	}
	b = append(b, '\n')
	p.w.Write(b)
	p.b = b
}

// appendValue appends s, quoted when it is empty or holds a space, a
// quote, '=' or anything not printable.
func appendValue(b []byte, s string) []byte {
	if s == "" || strings.ContainsAny(s, " \"=") || strconv.Quote(s) != `"`+s+`"` {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

// truncate cuts p to at most max bytes (0: no limit), not inside a UTF-8
// sequence of valid text, and reports whether it cut.
func truncate(p []byte, max int) ([]byte, bool) {
	if max <= 0 || len(p) <= max {
		return p, false
	}
	q := p[:max]
	if utf8.Valid(p) {
		for len(q) > 0 && !utf8.Valid(q) {
			q = q[:len(q)-1]
		}
	}
	return q, true
}
