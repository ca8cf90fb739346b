package testenv

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	waitpoll "github.com/edgeplane/edgeplane/internal/testenv/poll"
	"github.com/edgeplane/edgeplane/natsd"
)

// CheckFor calls f every poll until it returns nil, failing the test with
// f's last error once timeout has passed (poll.Until).
func CheckFor(t testing.TB, timeout, poll time.Duration, f func() error) {
	t.Helper()
	waitpoll.Until(t, timeout, poll, f)
}

// NATS starts an embedded server with JetStream in a temp dir; with mqtt
// set it also listens for MQTT on a free loopback port. It is shut down
// when the test ends.
func NATS(t testing.TB, mqtt bool) *natsd.Server {
	t.Helper()
	return NATSAt(t, t.TempDir(), mqtt)
}

// NATSAt is NATS with a given store dir, for restart tests.
func NATSAt(t testing.TB, dir string, mqtt bool) *natsd.Server {
	t.Helper()
	o := natsd.Options{StoreDir: dir}
	if mqtt {
		o.MQTTListen = "127.0.0.1:0"
	}
	s, err := natsd.Start(o)
	if err != nil {
		t.Fatalf("start nats: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// Kafka starts an in-process kfake cluster that creates topics on demand.
func Kafka(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// Consume reads topic from the start until want records arrived or
// timeout passed, and returns what it read.
func Consume(t testing.TB, brokers []string, topic string, want int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatalf("kafka consumer: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
		for _, e := range fs.Errors() {
			if ctx.Err() == nil {
				t.Logf("consume %s: %v", topic, e.Err)
			}
		}
	}
	return out
}

// Header returns the value of header key in r.
func Header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// Errorf is fmt.Errorf, for CheckFor conditions.
func Errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// ConsumeUntil reads topic from the start until done(records so far)
// returns true, failing the test at timeout. It returns what it read.
func ConsumeUntil(t testing.TB, brokers []string, topic string, timeout time.Duration, done func([]*kgo.Record) bool) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatalf("kafka consumer: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for !done(out) {
		if ctx.Err() != nil {
			t.Fatalf("consume %s: condition not met within %s (%d records read)", topic, timeout, len(out))
		}
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}
