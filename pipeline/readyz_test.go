package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/pipeline"
)

// TestReadyzStall: while Kafka refuses every produce, frames wait and
// nothing is acknowledged; after KafkaStallAfter (1 s here) /readyz
// answers 503 naming the stall and its last error, and the Kafka error
// counter has moved. Once Kafka accepts again, /readyz is ready again.
func TestReadyzStall(t *testing.T) {
	kfk := testenv.Kafka(t)
	var refuse atomic.Bool
	kfk.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kfk.KeepControl()
		if !refuse.Load() {
			return nil, nil, false
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
	cfg, err := config.LoadBytes("e2e.yaml", []byte(fmt.Sprintf(e2eConfig, t.TempDir(), "embedded")), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	g, err := pipeline.New(cfg, pipeline.Options{Logger: quietLog(), KafkaBrokers: kfk.ListenAddrs(), KafkaStallAfter: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Stop(context.Background()) })
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	readyz := func() (int, pipeline.Readiness) {
		t.Helper()
		resp, err := srvClient.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r pipeline.Readiness
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, r
	}
	testenv.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if code, r := readyz(); code != 200 {
			return fmt.Errorf("/readyz %d %v", code, r.Problems)
		}
		return nil
	})

	refuse.Store(true)
	pub := mqttPublisher(t, g.MQTTAddr())
	for _, m := range newTumblingScenario().messages {
		publish(t, pub, m[0], m[1])
	}
	var problems []string
	testenv.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		code, r := readyz()
		problems = r.Problems
		// The stall may be reported before the client gave up on its
		// first tries; the last error follows.
		if code != 503 || r.Ready || len(r.Problems) == 0 || !strings.HasPrefix(r.Problems[0], "kafka forwarding stalled: ") ||
			!strings.Contains(r.Problems[0], "last error: NOT_ENOUGH_REPLICAS") {
			return fmt.Errorf("/readyz %d %v", code, r.Problems)
		}
		return nil
	})
	t.Logf("/readyz during the refusal: %q", problems)
	body := scrape(t, srv.URL+"/metrics")
	if strings.Contains(body, `edgeplane_sink_kafka_errors_total{type="retriable"} 0`+"\n") ||
		!strings.Contains(body, `edgeplane_sink_kafka_errors_total{type="retriable"} `) {
		t.Errorf("retriable kafka errors not counted during the refusal")
	}

	refuse.Store(false)
	testenv.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		if code, r := readyz(); code != 200 || !r.Ready {
			return fmt.Errorf("/readyz %d %v", code, r.Problems)
		}
		return nil
	})
	testenv.Consume(t, kfk.ListenAddrs(), "test.air", 6, 10*time.Second)
}
