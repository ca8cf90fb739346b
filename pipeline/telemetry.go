package pipeline

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edgeplane/edgeplane/internal/version"
)

// TelemetryEvent is the status a gateway publishes to
// gateway.telemetry_topic every gateway.telemetry_interval. It goes
// straight to Kafka, not through the JetStream buffer: a status that
// cannot be sent is stale by the next one, so it is counted and dropped.
type TelemetryEvent struct {
	Gateway       string          `json:"gateway"`
	Version       string          `json:"version"`
	Time          int64           `json:"ts"`
	UptimeSeconds float64         `json:"uptime_s"`
	Sources       map[string]bool `json:"sources_connected"`
	Pipelines     int             `json:"pipelines"`
	// Rates are per second over the last interval.
	MessagesPerSec   float64  `json:"messages_per_s"`
	ReadingsPerSec   float64  `json:"readings_per_s"`
	AggregatesPerSec float64  `json:"aggregates_per_s"`
	Totals           Snapshot `json:"totals"`
	BufferOldestAge  float64  `json:"buffer_oldest_age_s"`
	Ready            bool     `json:"ready"`
}

// telemetry publishes a TelemetryEvent every interval until ctx ends.
func (g *Gateway) telemetry(ctx context.Context, id, topic string, interval time.Duration, sent, failed *atomic.Uint64) {
	t := time.NewTicker(interval)
	defer t.Stop()
	prev, prevAt := g.Snapshot(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			snap := g.Snapshot()
			el := now.Sub(prevAt).Seconds()
			ev := TelemetryEvent{
				Gateway:          id,
				Version:          version.Version,
				Time:             now.UnixMilli(),
				UptimeSeconds:    now.Sub(g.started).Seconds(),
				Sources:          map[string]bool{},
				MessagesPerSec:   float64(snap.Messages-prev.Messages) / el,
				ReadingsPerSec:   float64(snap.Readings-prev.Readings) / el,
				AggregatesPerSec: float64(snap.AggregatesBuffered-prev.AggregatesBuffered) / el,
				Totals:           snap,
				BufferOldestAge:  g.m.buffer().oldestAge,
				Ready:            g.Ready().Ready,
			}
			g.mu.Lock()
			ev.Pipelines = len(g.pipes)
			for _, sr := range g.sources {
				ev.Sources[sr.cfg.Name] = sr.src != nil && sr.src.Connected()
			}
			g.mu.Unlock()
			prev, prevAt = snap, now
			value, _ := json.Marshal(ev)
			g.kc.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(ev.Gateway), Value: value}, func(_ *kgo.Record, err error) {
				if err != nil {
					failed.Add(1)
					return
				}
				sent.Add(1)
			})
		}
	}
}
