package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/dryrun"
)

const testUsage = `usage: edgeplane test -c FILE [--source S] [--topic T] [--now TIME] [--windows] [FILE...|-]

Runs the payloads through the pipelines that source S feeds — decode, tag
filters, field mapping, dedup, filter, map, deadband — in-process, with no
broker, NATS or Kafka, and prints what each message became: its readings
(series, field, event time, value, and what each pipeline did with it), or
why it was rejected. --windows also runs the windows and, once the input
ends, prints the records they emit, one JSON object per line (the values
of the Kafka records; late readings as the late topic's records).

Input: each FILE is one message, except *.ndjson, *.jsonl and standard
input ("-", or no FILE), which hold one message per line. A line
"@TOPIC PAYLOAD" gives its own topic. Exit status 1 if any message was
rejected.
`

// cmdTest is `edgeplane test`.
func cmdTest(args []string, stdout, stderr io.Writer, stdin io.Reader) error {
	fs := newFlagSet("test", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, testUsage); fs.PrintDefaults() }
	file := fs.String("c", "", "config file or directory (required)")
	source := fs.String("source", "", "the source whose decoder reads the payloads (default: the only source)")
	topic := fs.String("topic", "", "the topic of the messages (default: the source's first topic filter, wildcards as \"test\")")
	now := fs.String("now", "", "arrival time of the messages, RFC 3339 or Unix ms (default: now)")
	windows := fs.Bool("windows", false, "also run the windows and print the records they emit")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *file == "" {
		fmt.Fprint(stderr, "edgeplane test: -c FILE is required\n\n"+testUsage)
		return errUsage
	}
	arrival := time.Now().UnixMilli()
	if *now != "" {
		var err error
		if arrival, err = parseNow(*now); err != nil {
			return err
		}
	}
	c, err := config.Load(*file)
	if err != nil {
		return err
	}
	plan, err := config.Compile(c)
	if err != nil {
		return err
	}
	r, err := dryrun.New(plan, dryrun.Options{Source: *source, Windows: *windows})
	if err != nil {
		return err
	}
	if *topic == "" {
		*topic = defaultTopic(r.Source().Config)
	}
	msgs, err := readMessages(fs.Args(), *topic, stdin)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(stdout)
	defer bw.Flush()
	rejected := 0
	for i, m := range msgs {
		res := r.Feed(m.topic, m.payload, arrival)
		if res.Err != nil {
			rejected++
			fmt.Fprintf(bw, "#%d %s: rejected: %s: %v\n", i+1, m.topic, res.Reason, res.Err)
			continue
		}
		fmt.Fprintf(bw, "#%d %s: %d reading(s)\n", i+1, m.topic, len(res.Readings))
		for _, rd := range res.Readings {
			ts := formatMs(rd.Time)
			if rd.Arrival {
				ts += " (arrival)"
			}
			fmt.Fprintf(bw, "  series=%s field=%s time=%s value=%s", rd.Series, rd.Field, ts, strconv.FormatFloat(rd.Value, 'g', -1, 64))
			for _, o := range rd.Outcomes {
				fmt.Fprintf(bw, " %s:%s", o.Pipeline, o.Result)
			}
			bw.WriteByte('\n')
		}
		printRecords(bw, r.Records())
	}
	if *windows {
		r.Advance(arrival)
		r.Flush()
		printRecords(bw, r.Records())
	}
	fmt.Fprintf(stderr, "edgeplane test: %d message(s), %d accepted, %d rejected\n", len(msgs), len(msgs)-rejected, rejected)
	if rejected > 0 {
		bw.Flush()
		return errRejected
	}
	return nil
}

// errRejected makes `edgeplane test` exit 1 without another message: each
// rejection was printed with its reason.
var errRejected = errors.New("rejected")

// printTombstone prints a record with a null value (a retraction of a
// pipeline keyed by id) as a JSON line: {"key":"<id>","value":null}.
func printTombstone(w io.Writer, key []byte) {
	k, _ := json.Marshal(string(key)) // a string always marshals
	fmt.Fprintf(w, "{\"key\":%s,\"value\":null}\n", k)
}

func printRecords(w io.Writer, recs []dryrun.Record) {
	for _, rec := range recs {
		if rec.Value == nil {
			printTombstone(w, []byte(rec.Key))
			continue
		}
		w.Write(rec.Value)
		io.WriteString(w, "\n")
	}
}

type message struct {
	topic   string
	payload []byte
}

// readMessages reads the messages of files (see testUsage).
func readMessages(files []string, topic string, stdin io.Reader) ([]message, error) {
	if len(files) == 0 {
		files = []string{"-"}
	}
	var out []message
	for _, f := range files {
		var data []byte
		var err error
		if f == "-" {
			data, err = io.ReadAll(io.LimitReader(stdin, 64<<20))
		} else {
			data, err = os.ReadFile(f)
		}
		if err != nil {
			return nil, err
		}
		if f != "-" && !strings.HasSuffix(f, ".ndjson") && !strings.HasSuffix(f, ".jsonl") {
			out = append(out, message{topic, data})
			continue
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			line = bytes.TrimRight(line, "\r")
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			t := topic
			if line[0] == '@' {
				at, rest, _ := bytes.Cut(line[1:], []byte(" "))
				t, line = string(at), rest
			}
			out = append(out, message{t, line})
		}
	}
	return out, nil
}

// defaultTopic is a topic the source takes: its first filter with every
// wildcard level as "test" (or the WebSocket source's fixed topic).
func defaultTopic(s *config.Source) string {
	var filters []string
	switch s.Type {
	case config.SourceMQTT:
		filters = s.MQTT.Topics
	case config.SourceEmbedded:
		filters = s.Embedded.Topics
	case config.SourceWebSocket:
		if s.WebSocket.Topic != "" {
			return s.WebSocket.Topic
		}
		return "test"
	}
	if len(filters) == 0 {
		return "test"
	}
	f := filters[0]
	if strings.HasPrefix(f, "$share/") {
		if parts := strings.SplitN(f, "/", 3); len(parts) == 3 {
			f = parts[2]
		}
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if l == "+" || l == "#" {
			levels[i] = "test"
		}
	}
	return strings.Join(levels, "/")
}

func parseNow(s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("--now %q: want RFC 3339 (2025-11-21T00:00:00Z) or Unix ms", s)
	}
	return t.UnixMilli(), nil
}

func formatMs(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
