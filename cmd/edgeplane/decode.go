package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edgeplane/edgeplane/sink/compact"
)

// cmdDecode turns compact records back into the JSON lines the json
// format would have sent: one record value from a file or stdin, or every
// record of a Kafka topic (where json values print as they are and a
// tombstone, a retraction keyed by id, as {"key":"<id>","value":null}).
func cmdDecode(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("decode", stderr)
	file := fs.String("f", "-", "file holding one record value (- for stdin)")
	brokers := fs.String("brokers", "", "read the topic from these Kafka brokers (comma-separated) instead of a file")
	topic := fs.String("topic", "", "topic to read with -brokers")
	max := fs.Int("max", 0, "stop after this many records (0: until -timeout passes with no record)")
	timeout := fs.Duration("timeout", 5*time.Second, "with -brokers: stop after this long without a record")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	if *brokers == "" {
		var r io.Reader = os.Stdin
		if *file != "-" {
			f, err := os.Open(*file)
			if err != nil {
				return err
			}
			defer f.Close()
			r = f
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		return compact.WriteJSONLines(w, b)
	}
	if *topic == "" {
		fmt.Fprintln(stderr, "edgeplane decode: -topic is required with -brokers")
		return errUsage
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(*brokers, ",")...), kgo.ConsumeTopics(*topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	n := 0
	for *max == 0 || n < *max {
		pctx, cancel := context.WithTimeout(ctx, *timeout)
		fetches := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil || (fetches.NumRecords() == 0 && pctx.Err() != nil) {
			break
		}
		var derr error
		fetches.EachRecord(func(r *kgo.Record) {
			if derr != nil || (*max > 0 && n >= *max) {
				return
			}
			n++
			if r.Value == nil {
				printTombstone(w, r.Key)
				return
			}
			if err := compact.WriteJSONLines(w, r.Value); err != nil {
				// Not a compact record: a json-format value is printed as is.
				if len(r.Value) > 0 && r.Value[0] == '{' {
					w.Write(r.Value)
					w.WriteByte('\n')
					return
				}
				derr = fmt.Errorf("record %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
			}
		})
		if derr != nil {
			return derr
		}
	}
	return nil
}
