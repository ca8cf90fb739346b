// Command edgeplane is the gateway daemon: run, validate, demo, version,
// and the tools around it (deadletters, decode, config, …).
// The work lives in the libraries; this file parses flags and wires them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/VictoriaMetrics/metrics"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/internal/version"
)

const usage = `edgeplane — a streaming dataplane for Smart City edge gateways

Usage:
  edgeplane run      -c FILE     run the gateway from a config file (or a directory of them)
  edgeplane validate -c FILE     check a config file; prints every problem, exit 1 if any
  edgeplane reload   -c FILE     validate FILE, then make the running gateway re-read it (SIGHUP)
  edgeplane test     -c FILE [FILE...|-]
                                 run payloads through the pipelines in-process (no servers): readings, rejects, --windows records
  edgeplane demo     [flags]     run the whole stack in-process with simulated sensors (bin/edgeplane-demo, built with -tags demo)
  edgeplane decode   [flags]     turn compact-format records into JSON lines (a file, stdin, or a Kafka topic)
  edgeplane config   -c FILE     print the effective config: every default filled in, secrets redacted
  edgeplane deadletters -c FILE [--source S] [--follow] [--json] [--max-bytes N]
                                 print rejected payloads from the dead-letter stream: time, source, topic, reason, payload
  edgeplane top      [flags]     a running gateway's rates, watermark lag, ring fill and backlogs, every second
  edgeplane tap      [flags]     stream a running gateway's live events: readings, rejects, late readings, aggregates
  edgeplane schema               print the config file's JSON Schema (for editors and CI)
  edgeplane version              print the version

Run 'edgeplane COMMAND -h' for a command's flags.
`

func main() {
	metrics.ExposeMetadata(true)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(args[1:], stderr)
	case "validate":
		return cmdValidate(args[1:], stdout, stderr)
	case "reload":
		err = cmdReload(args[1:], stdout, stderr)
	case "demo":
		err = cmdDemo(args[1:], stdout, stderr)
	case "decode":
		err = cmdDecode(args[1:], stdout, stderr)
	case "test":
		err = cmdTest(args[1:], stdout, stderr, os.Stdin)
		if errors.Is(err, errRejected) {
			return 1
		}
	case "schema":
		err = cmdSchema(args[1:], stdout, stderr)
	case "config":
		err = cmdConfig(args[1:], stdout, stderr)
	case "deadletters":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err = cmdDeadletters(ctx, args[1:], stdout, stderr)
		stop()
	case "top":
		err = cmdTop(args[1:], stdout, stderr)
	case "tap":
		err = cmdTap(args[1:], stdout, stderr)
	case "version", "-v", "--version":
		fmt.Fprintln(stdout, version.String("edgeplane"))
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "edgeplane: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if errors.Is(err, errUsage) {
			return 2
		}
		fmt.Fprintf(stderr, "edgeplane: %v\n", err)
		return 1
	}
	return 0
}

var errUsage = errors.New("usage")

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", stderr)
	file := fs.String("c", "", "config file or directory (required)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *file == "" {
		fmt.Fprintln(stderr, "edgeplane validate: -c FILE is required")
		return 2
	}
	c, err := config.Load(*file)
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			fmt.Fprintln(stderr, err)
			fmt.Fprintf(stderr, "%s: %d problem(s)\n", *file, len(ce.Problems))
		} else {
			fmt.Fprintf(stderr, "edgeplane validate: %v\n", err)
		}
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (%d sources, %d pipelines)\n", *file, len(c.Sources), len(c.Pipelines))
	return 0
}

// newLogger returns a text logger at the config's level.
func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
