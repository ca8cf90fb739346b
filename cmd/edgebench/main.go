// Command edgebench loads an edgeplane gateway with smart-city sensor
// traffic and reports how many readings per second it holds, at what CPU,
// memory and latency, and whether every reading is accounted for. The
// work lives in package bench; this file maps flags onto it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/edgeplane/edgeplane/bench"
	"github.com/edgeplane/edgeplane/bench/sim"
	"github.com/edgeplane/edgeplane/internal/version"
)

const usage = `edgebench — load generator and accounting benchmark for edgeplane

Usage:
  edgebench run --scenario NAME|FILE [flags]   run a scenario, write the report
  edgebench list                              list the built-in scenarios
  edgebench sim [flags]                       publish simulated readings only (no accounting)
  edgebench version

Built-in scenarios: %s.
Run 'edgebench run -h' or 'edgebench sim -h' for their flags.
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, usage, strings.Join(bench.BuiltinNames(), ", "))
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(args[1:], stdout, stderr)
	case "list":
		for _, n := range bench.BuiltinNames() {
			sc, _ := bench.Builtin(n)
			fmt.Fprintf(stdout, "%-10s %s\n", n, sc.Description)
		}
	case "sim":
		err = cmdSim(args[1:], stdout, stderr)
	case "subscribe":
		// The baseline's bare subscriber, run by `edgebench run` as a
		// process of its own (bench.Subscribe).
		fs := flag.NewFlagSet("subscribe", flag.ContinueOnError)
		fs.SetOutput(stderr)
		broker := fs.String("broker", "", "MQTT broker URL")
		topic := fs.String("topic", "", "topic filter")
		qos := fs.Int("qos", 0, "QoS")
		if fs.Parse(args[1:]) != nil || *broker == "" || *topic == "" {
			return 2
		}
		err = bench.Subscribe(*broker, *topic, *qos, os.Stdin, stdout)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, version.String("edgebench"))
	case "help", "-h", "-help", "--help":
		fmt.Fprintf(stdout, usage, strings.Join(bench.BuiltinNames(), ", "))
		fmt.Fprintln(stdout, "\nFlags of 'edgebench run':")
		runFlags(stdout).fs.PrintDefaults()
		fmt.Fprintln(stdout, "\nFlags of 'edgebench sim':")
		simFlags(stdout).fs.PrintDefaults()
		fmt.Fprintln(stdout, "\nExit status: 0 ok, 1 error, 2 usage, 3 the run left readings unexplained.")
	default:
		fmt.Fprintf(stderr, "edgebench: unknown command %q\n\n"+usage, args[0], strings.Join(bench.BuiltinNames(), ", "))
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, errNotSustained):
		fmt.Fprintln(stderr, "edgebench:", err)
		return 3
	default:
		fmt.Fprintln(stderr, "edgebench:", err)
		return 1
	}
}

var (
	errUsage        = errors.New("usage")
	errNotSustained = errors.New("unexplained readings: the run did not account for every reading")
)

type runFlagSet struct {
	fs                         *flag.FlagSet
	scenario, target, out      string
	bin, moduleDir             string
	broker, kafka, metrics     string
	ws, wsToken                string
	epPid, brokerPid           int
	duration                   time.Duration
	rate                       float64
	conns, qos, steps          int
	series                     string
	shards                     int
	format                     string
	noBaseline, quiet, jsonOut bool
	verbose                    bool
}

func runFlags(w io.Writer) *runFlagSet {
	f := &runFlagSet{fs: flag.NewFlagSet("run", flag.ContinueOnError)}
	fs := f.fs
	fs.SetOutput(w)
	fs.StringVar(&f.scenario, "scenario", "smoke", "built-in scenario name ("+strings.Join(bench.BuiltinNames(), ", ")+") or a scenario YAML file")
	fs.StringVar(&f.target, "target", "embedded", "where edgeplane runs: embedded (in this process), subprocess (built from ./cmd/edgeplane), external (--broker, --kafka, --metrics)")
	fs.StringVar(&f.out, "out", "bench/results", "directory for the report (Markdown, JSON, SVG chart); empty: do not write files")
	fs.StringVar(&f.bin, "edgeplane-bin", "", "subprocess target: edgeplane binary to run (default: go build ./cmd/edgeplane in --module-dir)")
	fs.StringVar(&f.moduleDir, "module-dir", ".", "subprocess target: the edgeplane module to build")
	fs.StringVar(&f.broker, "broker", "", "external target: MQTT broker URL (tcp://host:1883)")
	fs.StringVar(&f.kafka, "kafka", "", "external target: Kafka seed brokers, comma-separated")
	fs.StringVar(&f.metrics, "metrics", "", "external target: the gateway's /metrics URL (its counters explain rejected, late and dropped readings)")
	fs.StringVar(&f.ws, "ws", "", "WebSocket endpoint URL for ws scenarios (ws://host:port/path); when empty, an embedded or subprocess target serves its own WebSocket source")
	fs.StringVar(&f.wsToken, "ws-token", "", "bearer token for the WebSocket endpoint (default $EDGEBENCH_WS_TOKEN; an embedded or subprocess target without it serves a random one)")
	fs.IntVar(&f.epPid, "edgeplane-pid", 0, "external target: pid of the edgeplane process on this host, for CPU and memory figures")
	fs.IntVar(&f.brokerPid, "broker-pid", 0, "pid of an external broker process on this host (e.g. mosquitto), for CPU and memory figures")
	fs.DurationVar(&f.duration, "duration", 0, "override the scenario's duration (per step for stepped scenarios)")
	fs.Float64Var(&f.rate, "rate", 0, "override the offered rate in messages/s (the first step for stepped scenarios)")
	fs.IntVar(&f.conns, "connections", 0, "override the number of publishing connections")
	fs.IntVar(&f.qos, "qos", -1, "override the MQTT QoS (0 or 1)")
	fs.StringVar(&f.series, "series", "", "override the number of series; a comma-separated list (1000,10000,100000) runs the scenario once per count and writes a sweep summary of RSS, heap and CPU by series count")
	fs.StringVar(&f.format, "format", "", "override the payload format: json, senml, ttn")
	fs.IntVar(&f.steps, "max-steps", 0, "override the maximum number of rate steps")
	fs.IntVar(&f.shards, "shards", 0, "override the pipeline's ring shards")
	fs.BoolVar(&f.noBaseline, "no-baseline", false, "skip the bare-subscriber baseline")
	fs.BoolVar(&f.quiet, "quiet", false, "no live progress display")
	fs.BoolVar(&f.jsonOut, "json", false, "print the JSON report on stdout instead of the Markdown headline")
	fs.BoolVar(&f.verbose, "v", false, "log the embedded gateway at info level on stderr")
	return f
}

func cmdRun(args []string, stdout, stderr io.Writer) error {
	f := runFlags(stderr)
	if err := f.fs.Parse(args); err != nil {
		return errUsage
	}
	counts, err := parseCounts(f.series)
	if err != nil {
		fmt.Fprintln(stderr, "edgebench: --series:", err)
		return errUsage
	}
	if len(counts) <= 1 {
		n := 0
		if len(counts) == 1 {
			n = counts[0]
		}
		rep, err := runOnce(f, n, stdout, stderr)
		if err != nil {
			return err
		}
		if rep.Skipped == "" && rep.Headline.Unexplained != 0 {
			return errNotSustained
		}
		return nil
	}
	var reps []*bench.Report
	for _, n := range counts {
		fmt.Fprintf(stderr, "edgebench: series sweep: %d series\n", n)
		rep, err := runOnce(f, n, io.Discard, stderr)
		if err != nil {
			return fmt.Errorf("%d series: %w", n, err)
		}
		reps = append(reps, rep)
	}
	sw := bench.NewSweep(reps)
	if f.out != "" {
		p, err := sw.Save(f.out)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "edgebench: wrote %s\n", p)
	}
	if err := sw.WriteMarkdown(stdout); err != nil {
		return err
	}
	for _, r := range reps {
		if r.Skipped == "" && r.Headline.Unexplained != 0 {
			return errNotSustained
		}
	}
	return nil
}

// parseCounts parses --series: empty, one count, or a comma-separated list.
func parseCounts(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive count", part)
		}
		out = append(out, n)
	}
	return out, nil
}

// runOnce runs the scenario of f with series series (0: the scenario's),
// saves its report and prints it on stdout.
func runOnce(f *runFlagSet, series int, stdout, stderr io.Writer) (*bench.Report, error) {
	sc, err := bench.LookupScenario(f.scenario)
	if err != nil {
		return nil, err
	}
	if err := (bench.Overrides{Duration: f.duration, Rate: f.rate, Connections: f.conns, QoS: f.qos, Series: series,
		Format: f.format, MaxSteps: f.steps, NoBaseline: f.noBaseline, Shards: f.shards}).Apply(sc); err != nil {
		return nil, err
	}
	if f.wsToken == "" {
		f.wsToken = os.Getenv("EDGEBENCH_WS_TOKEN")
	}
	o := bench.RunOptions{
		SubscriberCmd: subscriberCmd(),
		Stack: bench.StackOptions{Mode: f.target, EdgeplaneBin: f.bin, ModuleDir: f.moduleDir, Broker: f.broker,
			MetricsURL: f.metrics, WSURL: f.ws, EdgeplanePid: f.epPid, BrokerPid: f.brokerPid},
		WSURL: f.ws, WSToken: f.wsToken,
	}
	if f.kafka != "" {
		o.Stack.Kafka = strings.Split(f.kafka, ",")
	}
	if f.verbose {
		o.Stack.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
		o.Stack.LogOutput = stderr
	}
	if !f.quiet {
		o.Progress = stderr
		if fi, ok := stderr.(*os.File); ok {
			if st, err := fi.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				o.TTY = true
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := bench.Run(ctx, sc, o)
	if err != nil {
		return nil, err
	}
	if f.out != "" {
		paths, err := rep.Save(f.out)
		if err != nil {
			return nil, err
		}
		for _, p := range paths {
			fmt.Fprintf(stderr, "edgebench: wrote %s\n", p)
		}
	}
	if f.jsonOut {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteMarkdown(stdout)
	}
	return rep, err
}

type simFlagSet struct {
	fs                  *flag.FlagSet
	broker, types       string
	rate                float64
	duration, disorder  time.Duration
	qos, districts, per int
}

func simFlags(w io.Writer) *simFlagSet {
	f := &simFlagSet{fs: flag.NewFlagSet("sim", flag.ContinueOnError)}
	fs := f.fs
	fs.SetOutput(w)
	fs.StringVar(&f.broker, "broker", "tcp://127.0.0.1:1883", "MQTT broker URL")
	fs.Float64Var(&f.rate, "rate", 1000, "messages per second")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "how long to publish")
	fs.IntVar(&f.qos, "qos", 0, "MQTT QoS (0 or 1)")
	fs.StringVar(&f.types, "types", "air,noise,traffic", "sensor profiles: air, noise, traffic, parking, meter")
	fs.IntVar(&f.districts, "districts", 3, "districts (topic level 2)")
	fs.IntVar(&f.per, "sensors", 20, "sensors per type and district")
	fs.DurationVar(&f.disorder, "disorder", 0, "shift event times back by up to this (out-of-order readings)")
	return f
}

// cmdSim is the plain simulator: publish readings at a rate, no accounting.
func cmdSim(args []string, stdout, stderr io.Writer) error {
	f := simFlags(stderr)
	if err := f.fs.Parse(args); err != nil {
		return errUsage
	}
	simulator, err := sim.New(sim.Options{
		Broker: f.broker, Rate: f.rate, QoS: byte(f.qos), Types: strings.Split(f.types, ","),
		Districts: f.districts, SensorsPerType: f.per, MaxDisorder: f.disorder,
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, f.duration)
	defer cancel()
	start := time.Now()
	if err := simulator.Run(ctx); err != nil {
		return err
	}
	el := time.Since(start).Seconds()
	fmt.Fprintf(stdout, "edgebench: sent %d messages in %.1fs (%.0f msg/s), %d failed, %d sensors\n",
		simulator.Sent.Load(), el, float64(simulator.Sent.Load())/el, simulator.Failed.Load(), simulator.Sensors())
	return nil
}

// subscriberCmd is how `edgebench run` starts the baseline's subscriber
// as a process of its own: this binary's subscribe command. nil (the
// subscriber then runs in-process) when the binary cannot be found.
func subscriberCmd() []string {
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	return []string{exe, "subscribe"}
}
