package sink_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/sink"
)

// The produce buffer follows the memory budget within its bounds.
func TestKafkaBufferFor(t *testing.T) {
	for _, c := range []struct {
		limit int64
		want  int
	}{
		{32 << 20, 8 << 20},   // floor: a forwarder batch of full frames
		{128 << 20, 8 << 20},  // a sixteenth
		{256 << 20, 16 << 20}, // the default memory_limit
		{512 << 20, 32 << 20},
		{4 << 30, sink.DefaultKafkaMaxBufferedBytes}, // ceiling
	} {
		if got := sink.KafkaBufferFor(c.limit); got != c.want {
			t.Errorf("KafkaBufferFor(%d MiB) = %d MiB, want %d MiB", c.limit>>20, got>>20, c.want>>20)
		}
	}
}

// The forwarder's batch follows the memory budget within its bounds.
func TestForwarderBatchFor(t *testing.T) {
	for _, c := range []struct {
		limit int64
		want  int
	}{
		{32 << 20, 4},
		{256 << 20, 8}, // the default memory_limit
		{512 << 20, 16},
		{1 << 30, 32},
		{8 << 30, 32},
	} {
		if got := sink.ForwarderBatchFor(c.limit); got != c.want {
			t.Errorf("ForwarderBatchFor(%d MiB) = %d, want %d", c.limit>>20, got, c.want)
		}
	}
}

// TestKafkaClientSendsNoTelemetry: the producer does not take part in
// KIP-714 client metrics, which a broker offering a subscription would
// otherwise have it push every interval (over the gateway's uplink, each
// subscription building compressors with megabytes of buffers); the
// gateway reports on its own telemetry topic.
func TestKafkaClientSendsNoTelemetry(t *testing.T) {
	kfk := testenv.Kafka(t)
	var asked atomic.Int64
	kfk.ControlKey(int16(kmsg.GetTelemetrySubscriptions), func(kmsg.Request) (kmsg.Response, error, bool) {
		kfk.KeepControl()
		asked.Add(1)
		return nil, nil, false
	})
	cl, err := sink.NewKafkaClient(sink.KafkaOptions{Brokers: kfk.ListenAddrs(), AutoCreateTopics: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("x")}).FirstErr()
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	// The client's first telemetry request goes out when it starts, before
	// its first produce is answered; give a late one a metadata round trip.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if n := asked.Load(); n != 0 {
		t.Fatalf("%d GetTelemetrySubscriptions requests, want none", n)
	}
}
