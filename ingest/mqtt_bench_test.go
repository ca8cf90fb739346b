package ingest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/decode"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeplane/edgeplane/internal/testenv"
)

// benchPayloads are the messages the ingest benchmarks publish: the
// generic JSON air-quality shape of PAYLOADS.md.
func benchPayload(i int) []byte {
	return []byte(`{"id":"s-` + strconv.Itoa(i%1000) + `","ts":1763683200123,"pm25":12.4,"pm10":20.1,"temp":21.4,"hum":55.2}`)
}

func benchDecodeConfig() *decode.Options {
	return &decode.Options{KeyPath: "id", TimePath: "ts", MaxSkew: -1,
		Fields: []decode.Field{{Name: "pm25"}, {Name: "pm10"}, {Name: "temp"}, {Name: "hum"}}}
}

// publishAll publishes n messages spread over the districts d0..d(k-1),
// one publisher connection per district, QoS 1 in windows of 512 so the
// broker paces the publishers, and waits for every PUBACK.
func publishAll(b *testing.B, pubs []mqtt.Client, n int) {
	var wg sync.WaitGroup
	for d, pub := range pubs {
		share := n / len(pubs)
		if d == 0 {
			share += n % len(pubs)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			topic := "city/d" + strconv.Itoa(d) + "/air/s-1"
			const window = 512
			toks := make([]mqtt.Token, 0, window)
			for i := range share {
				toks = append(toks, pub.Publish(topic, 1, false, benchPayload(i)))
				if len(toks) == window || i == share-1 {
					for _, tok := range toks {
						if !tok.WaitTimeout(30 * time.Second) {
							b.Error("publish timed out")
							return
						}
					}
					toks = toks[:0]
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkMQTTIngest is messages per second from paho publishers on
// loopback through the embedded NATS MQTT listener into an MQTTSource of
// 1, 2 or 4 connections (split_topics over four district filters, QoS 0
// subscriptions), decoded and delivered.
func BenchmarkMQTTIngest(b *testing.B) {
	for _, conns := range []int{1, 2, 4} {
		b.Run("conns="+strconv.Itoa(conns), func(b *testing.B) {
			ns := testenv.NATS(b, true)
			var got atomic.Int64
			topics := []string{"city/d0/#", "city/d1/#", "city/d2/#", "city/d3/#"}
			s, err := NewMQTTSource(MQTTOptions{Name: "bench", Broker: ns.MQTTAddr(), Topics: topics, ClientID: "bench",
				CleanSession: true, Connections: conns, SplitTopics: true, Logger: quietLog}, benchDecodeConfig(), func(*decode.Batch) { got.Add(1) })
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if err := s.Start(ctx); err != nil {
				b.Fatal(err)
			}
			defer s.Stop(0)
			pubs := make([]mqtt.Client, len(topics))
			for i := range pubs {
				pubs[i] = publisher(b, ns.MQTTAddr(), "pub"+strconv.Itoa(i))
			}
			b.ResetTimer()
			publishAll(b, pubs, b.N)
			waitCount(b, &got, int64(b.N), &s.Stats)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
		})
	}
}

// BenchmarkMQTTIngestMosquitto is BenchmarkMQTTIngest against Mosquitto
// with one shared subscription ($share/edge/city/#) over 1, 2 or 4
// connections.
func BenchmarkMQTTIngestMosquitto(b *testing.B) {
	for _, conns := range []int{1, 2, 4} {
		b.Run("conns="+strconv.Itoa(conns), func(b *testing.B) {
			broker := testenv.Mosquitto(b)
			var got atomic.Int64
			s, err := NewMQTTSource(MQTTOptions{Name: "bench", Broker: broker, Topics: []string{"$share/edge/city/#"}, ClientID: "bench",
				CleanSession: true, Connections: conns, Logger: quietLog}, benchDecodeConfig(), func(*decode.Batch) { got.Add(1) })
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if err := s.Start(ctx); err != nil {
				b.Fatal(err)
			}
			defer s.Stop(0)
			pubs := make([]mqtt.Client, 4)
			for i := range pubs {
				pubs[i] = publisher(b, broker, "pub"+strconv.Itoa(i))
			}
			b.ResetTimer()
			publishAll(b, pubs, b.N)
			waitCount(b, &got, int64(b.N), &s.Stats)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
		})
	}
}

// BenchmarkNATSIngest is BenchmarkMQTTIngest for the embedded-broker
// mode: the same publishers, the messages taken in process by a
// NATSSource with 1 or 2 subscribers in a queue group.
func BenchmarkNATSIngest(b *testing.B) {
	for _, subs := range []int{1, 2} {
		b.Run("subscribers="+strconv.Itoa(subs), func(b *testing.B) {
			ns := testenv.NATS(b, true)
			nc, err := ns.Connect("bench")
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			var got atomic.Int64
			s, err := NewNATSSource(NATSOptions{Name: "bench", Conn: nc, Topics: []string{"city/+/air/#"}, Subscribers: subs, Logger: quietLog},
				benchDecodeConfig(), func(*decode.Batch) { got.Add(1) })
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			defer s.Stop(0)
			pubs := make([]mqtt.Client, 4)
			for i := range pubs {
				pubs[i] = publisher(b, ns.MQTTAddr(), "pub"+strconv.Itoa(i))
			}
			b.ResetTimer()
			publishAll(b, pubs, b.N)
			waitCount(b, &got, int64(b.N), &s.Stats)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
		})
	}
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func waitCount(b *testing.B, got *atomic.Int64, want int64, st *SourceStats) {
	testenv.CheckFor(b, 60*time.Second, time.Millisecond, func() error {
		if g := got.Load(); g < want {
			return fmt.Errorf("%d of %d delivered (messages %d, rejected %d, dropped %d)", g, want,
				st.Messages.Load(), st.RejectedTotal(), st.Dropped.Load())
		}
		return nil
	})
}
