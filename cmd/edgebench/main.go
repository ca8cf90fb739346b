// Command edgebench generates smart-city sensor load over MQTT against an
// edgeplane gateway. The work lives in package bench.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/edgeplane/edgeplane/bench"
	"github.com/edgeplane/edgeplane/internal/version"
)

func main() {
	fs := flag.NewFlagSet("edgebench", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "edgebench — smart-city load generator for edgeplane\n\nUsage: edgebench [flags]\n\n")
		fs.PrintDefaults()
	}
	broker := fs.String("broker", "tcp://127.0.0.1:1883", "MQTT broker URL")
	rate := fs.Float64("rate", 1000, "messages per second")
	duration := fs.Duration("duration", 10*time.Second, "how long to publish")
	qos := fs.Int("qos", 0, "MQTT QoS (0 or 1)")
	types := fs.String("types", "air,noise,traffic", "sensor profiles: air, noise, traffic, parking, meter")
	districts := fs.Int("districts", 3, "districts (topic level 2)")
	sensors := fs.Int("sensors", 20, "sensors per type and district")
	disorder := fs.Duration("disorder", 0, "shift event times back by up to this (out-of-order readings)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	_ = fs.Parse(os.Args[1:])
	if *showVersion {
		fmt.Println(version.String("edgebench"))
		return
	}
	sim, err := bench.NewSimulator(bench.SimOptions{
		Broker: *broker, Rate: *rate, QoS: byte(*qos), Types: strings.Split(*types, ","),
		Districts: *districts, SensorsPerType: *sensors, MaxDisorder: *disorder,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "edgebench:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	start := time.Now()
	if err := sim.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "edgebench:", err)
		os.Exit(1)
	}
	el := time.Since(start).Seconds()
	fmt.Printf("edgebench: sent %d messages in %.1fs (%.0f msg/s), %d failed, %d sensors\n",
		sim.Sent.Load(), el, float64(sim.Sent.Load())/el, sim.Failed.Load(), sim.Sensors())
}
