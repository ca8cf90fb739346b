package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/pipeline"
)

// DefaultDeadLetterMaxBytes is how much of a payload `edgeplane
// deadletters` prints by default.
const DefaultDeadLetterMaxBytes = 512

// cmdDeadletters prints the dead-letter stream of a gateway's data_dir.
//
// The store is read where it is safe to: while the gateway runs (it holds
// the store's lock, pipeline.LockStore) through its NATS listener
// (nats.listen; without one the running gateway's store cannot be reached
// and the command says so); while it is stopped, by opening the store
// in-process under the same lock (pipeline.OpenStore), so a gateway
// starting meanwhile refuses to start instead of sharing the store. Either
// way an ephemeral ordered consumer reads; nothing is acknowledged or
// removed.
func cmdDeadletters(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("deadletters", stderr)
	file := fs.String("c", "", "config file or directory of the gateway (required)")
	source := fs.String("source", "", "print only this source's dead letters")
	follow := fs.Bool("follow", false, "keep printing new dead letters until interrupted (needs the running gateway and nats.listen)")
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
	nc, closeStore, running, err := connectStore(cfg, plan)
	if err != nil {
		return err
	}
	defer closeStore()
	if *follow && !running {
		fmt.Fprintln(stderr, "edgeplane deadletters: the gateway is not running; printing what its store holds (nothing new can arrive)")
		*follow = false
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	p := dlPrinter{w: w, json: *asJSON, max: *maxBytes}
	err = pipeline.ReadDeadLetters(ctx, nc, pipeline.DeadLetterQuery{Source: *source, Follow: *follow}, func(dl *pipeline.DeadLetter) error {
		p.print(dl)
		if *follow { // a line as soon as it arrives
			return w.Flush()
		}
		return nil
	})
	if errors.Is(err, pipeline.ErrNoDeadLetterStream) {
		fmt.Fprintf(stderr, "edgeplane deadletters: %v (data_dir %s): the gateway has not started on it yet\n", err, cfg.Gateway.DataDir)
		return nil
	}
	return err
}

// connectStore connects to the store of cfg's gateway: over nats.listen
// when the gateway runs, else by opening the store in-process. close
// releases what it opened.
func connectStore(cfg *config.Config, plan *config.Compiled) (nc *nats.Conn, close func(), running bool, err error) {
	st, err := pipeline.OpenStore(plan)
	if err == nil {
		nc, err := st.Server().Connect("edgeplane-deadletters")
		if err != nil {
			st.Close()
			return nil, nil, false, err
		}
		return nc, func() { nc.Close(); st.Close() }, false, nil
	}
	if !errors.Is(err, pipeline.ErrStoreInUse) {
		return nil, nil, false, err
	}
	url, err := natsURL(cfg.NATS.Listen)
	if err != nil {
		return nil, nil, true, fmt.Errorf("the gateway is running and holds its store (data_dir %s): %w", cfg.Gateway.DataDir, err)
	}
	nc, err = nats.Connect(url, nats.Name("edgeplane-deadletters"), nats.Timeout(5*time.Second))
	if err != nil {
		return nil, nil, true, fmt.Errorf("the gateway is running; cannot connect to its NATS listener %s: %w", url, err)
	}
	return nc, nc.Close, true, nil
}

// natsURL is the URL to reach a NATS listener configured as listen
// (host:port) from this host.
func natsURL(listen string) (string, error) {
	if listen == "" {
		return "", errors.New("it can be read only through the gateway's NATS listener, and nats.listen is not set: set it (e.g. 127.0.0.1:4222) and restart the gateway, or stop the gateway to read its store directly")
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("nats.listen %q: %w", listen, err)
	}
	if port == "0" || port == "-1" {
		return "", fmt.Errorf("nats.listen %q picks a free port at start, which cannot be found from here: set a fixed port", listen)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "nats://" + net.JoinHostPort(host, port), nil
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
