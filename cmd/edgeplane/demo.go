//go:build demo

// The demo (an in-process Kafka cluster and a sensor simulator around the
// gateway) is built only with -tags demo, as bin/edgeplane-demo: the
// gateway binary shipped to devices carries neither (demo_off.go).

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edgeplane/edgeplane/bench/sim"
	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/configs"
	"github.com/edgeplane/edgeplane/pipeline"
)

func cmdDemo(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	file := fs.String("c", "", "pipeline config (default: the demo.yaml built into the binary); its kafka.brokers are replaced by the in-process cluster")
	duration := fs.Duration("duration", 0, "stop after this long (0: until Ctrl-C)")
	rate := fs.Float64("rate", 300, "simulated messages per second")
	dataDir := fs.String("data", "", "data dir (default: the config's gateway.data_dir)")
	quiet := fs.Bool("quiet", false, "log only warnings and errors")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	// The status line and the Kafka read-back print from two goroutines.
	stdout = &lockedWriter{w: stdout}
	cfg, err := loadDemoConfig(*file)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "demo: config %s\n", cfg.File)
	if *dataDir != "" {
		cfg.Gateway.DataDir = *dataDir
	}
	level := cfg.Gateway.LogLevel
	if *quiet {
		level = "warn"
	}
	log := newLogger(stderr, level)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}

	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1))
	if err != nil {
		return fmt.Errorf("start in-process kafka: %w", err)
	}
	defer kc.Close()
	fmt.Fprintf(stdout, "demo: in-process Kafka at %s\n", strings.Join(kc.ListenAddrs(), ","))

	g, httpAddr, stopHTTP, err := launch(ctx, cfg, pipeline.Options{Logger: log, KafkaBrokers: kc.ListenAddrs()}, log, nil)
	if err != nil {
		return err
	}
	defer stopHTTP()
	fmt.Fprintf(stdout, "demo: gateway %s; MQTT listener %s; metrics http://%s/metrics\n",
		cfg.Gateway.ID, g.MQTTAddr(), httpAddr)

	simulator, err := sim.New(sim.Options{Broker: g.MQTTAddr(), Rate: *rate, QoS: 1, MaxDisorder: time.Second})
	if err != nil {
		_ = g.Stop(context.Background())
		return err
	}
	fmt.Fprintf(stdout, "demo: simulating %d sensors at %.0f msg/s; Ctrl-C to stop\n", simulator.Sensors(), *rate)
	simDone := make(chan error, 1)
	go func() { simDone <- simulator.Run(ctx) }()

	var topics []string
	for _, p := range cfg.Pipelines {
		topics = append(topics, p.To.Topic)
	}
	readDone := make(chan int, 1)
	go func() { readDone <- readBack(ctx, kc.ListenAddrs(), topics, stdout) }()

	status(ctx, g, stdout)
	<-simDone
	fmt.Fprintln(stdout, "demo: stopping")
	err = g.Stop(context.Background())
	n := <-readDone
	fmt.Fprintf(stdout, "demo: read %d aggregates back from Kafka\n", n)
	return err
}

// loadDemoConfig loads file or, when file is "", the demo config built
// into the binary (configs/demo.yaml), so that the demo runs from any
// directory and from an installed package.
func loadDemoConfig(file string) (*config.Config, error) {
	if file == "" {
		return config.LoadBytes(configs.DemoName, configs.Demo, os.LookupEnv)
	}
	return config.Load(file)
}

// status prints one line per second until ctx ends.
func status(ctx context.Context, g *pipeline.Gateway, w io.Writer) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	start := time.Now()
	var prev pipeline.Snapshot
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s := g.Snapshot()
		fmt.Fprintf(w, "[%3.0fs] received %5d msg/s (%d readings) | rejected %d | windows fired %d | late %d | buffered %d | forwarded to Kafka %d | backlog %d frames, %d B\n",
			time.Since(start).Seconds(), s.Messages-prev.Messages, s.Readings, s.Rejected, s.WindowsFired, s.Late,
			s.AggregatesBuffered, s.KafkaRecords, s.BufferMessages, s.BufferBytes)
		prev = s
	}
}

// readBack consumes the pipelines' topics, prints the first few
// aggregates and counts the rest, until ctx ends.
func readBack(ctx context.Context, brokers, topics []string, w io.Writer) int {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		fmt.Fprintf(w, "demo: kafka consumer: %v\n", err)
		return 0
	}
	defer cl.Close()
	n := 0
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			n++
			if n <= 5 || n%1000 == 0 {
				fmt.Fprintf(w, "demo: kafka %s key=%s %s\n", r.Topic, r.Key, r.Value)
			}
		})
	}
	return n
}

// lockedWriter serializes writes so concurrent lines do not interleave.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
