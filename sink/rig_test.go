package sink_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/sink"
)

// rig is a JetStream buffer and a kfake cluster with a switchable outage.
type rig struct {
	t    testing.TB
	ctx  context.Context
	nc   *nats.Conn
	buf  *sink.Buffer
	kfk  *kfake.Cluster
	kc   *kgo.Client
	fw   *sink.Forwarder
	done chan error
	down *outage
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.DiscardHandler)
}

func newRig(t testing.TB, bo sink.BufferOptions) *rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ns := testenv.NATS(t, false)
	nc, err := ns.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	buf, err := sink.OpenBuffer(ctx, nc, bo)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, ctx: ctx, nc: nc, buf: buf, kfk: testenv.Kafka(t)}
	r.down = injectOutage(r.kfk)
	return r
}

// startForwarder starts a Kafka client and the forwarder; both stop when
// the test ends.
func (r *rig) startForwarder(fo sink.ForwarderOptions) {
	r.t.Helper()
	kc, err := sink.NewKafkaClient(sink.KafkaOptions{Brokers: r.kfk.ListenAddrs(), AutoCreateTopics: true, Logger: testLogger()})
	if err != nil {
		r.t.Fatal(err)
	}
	if fo.Logger == nil {
		fo.Logger = testLogger()
	}
	fw, err := sink.NewForwarder(r.ctx, r.buf, kc, fo)
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(r.ctx)
	r.kc, r.fw, r.done = kc, fw, make(chan error, 1)
	go func() { r.done <- fw.Run(ctx) }()
	r.t.Cleanup(func() {
		cancel()
		<-r.done
		kc.Close()
	})
}

func (r *rig) state() sink.BufferState {
	r.t.Helper()
	st, err := r.buf.State(r.ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	return st
}

// waitDrained waits until the buffer holds nothing.
func (r *rig) waitDrained(timeout time.Duration) {
	r.t.Helper()
	testenv.CheckFor(r.t, timeout, 20*time.Millisecond, func() error {
		st := r.state()
		if st.Messages != 0 {
			return fmt.Errorf("backlog %d frames, %d aggregates", st.Messages, st.Aggregates)
		}
		return nil
	})
}

// outage makes kfake fail every Produce request while on: alternately an
// error response (NOT_ENOUGH_REPLICAS, retriable) and a dropped
// connection, as a broker failover or a dead uplink would.
type outage struct {
	on     atomic.Bool
	failed atomic.Uint64 // produce requests failed
}

func injectOutage(c *kfake.Cluster) *outage {
	o := &outage{}
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !o.on.Load() {
			return nil, nil, false
		}
		if o.failed.Add(1)%2 == 0 {
			return nil, fmt.Errorf("injected outage: connection dropped"), true
		}
		pr := req.(*kmsg.ProduceRequest)
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range pr.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.NotEnoughReplicas.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	return o
}

func (o *outage) set(on bool) { o.on.Store(on) }

// aggID is the id header or JSON id of a json-format record.
func aggID(t testing.TB, r *kgo.Record) string {
	t.Helper()
	var v struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(r.Value, &v); err != nil {
		t.Fatalf("record value: %v: %.200s", err, r.Value)
	}
	if h := testenv.Header(r, "id"); h != v.ID {
		t.Fatalf("id header %q, value id %q", h, v.ID)
	}
	return v.ID
}

// seriesTable interns n series keys named by testenv.SeriesKey.
func seriesTable(t testing.TB, n int) *record.SeriesTable {
	t.Helper()
	keys := record.NewSeriesTable(n)
	for i := 0; i < n; i++ {
		if _, err := keys.Intern([]byte(testenv.SeriesKey(i))); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// wantIDs returns the ids the writer gives aggs.
func wantIDs(gateway, pipeline string, aggs []record.Aggregate, fields []string) []string {
	out := make([]string, len(aggs))
	for i := range aggs {
		who := sink.Identity{Gateway: gateway, Pipeline: pipeline, Series: testenv.SeriesKey(int(aggs[i].Series)), Field: fields[aggs[i].Field]}
		out[i] = string(sink.AppendID(nil, &who, aggs[i].Start))
	}
	return out
}
