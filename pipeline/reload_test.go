package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/pipeline"
)

// TestReloadUnderLoad changes a pipeline's window size while readings
// flow: the reload applies (new aggregates have the new size), every
// reading is in exactly one aggregate, and a refused reload keeps the
// running pipeline.
func TestReloadUnderLoad(t *testing.T) {
	kc := testenv.Kafka(t)
	dir := t.TempDir()
	load := func(text string) *config.Config {
		t.Helper()
		c, err := config.LoadBytes("reload.yaml", []byte(fmt.Sprintf(text, dir)), os.LookupEnv)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// Series scope (the default): each sensor's last windows close by the
	// wall-clock fallback, idle_timeout after its last reading.
	base := strings.Replace(fmt.Sprintf(e2eConfig, "%s", "embedded"), "out_of_orderness: 2s}", "out_of_orderness: 2s, idle_timeout: 1s}", 1)
	g, err := pipeline.New(load(base), pipeline.Options{KafkaBrokers: kc.ListenAddrs(), Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer g.Stop(ctx)
	pub := mqttPublisher(t, g.MQTTAddr())

	t0 := time.Now().Add(-time.Hour).UnixMilli() / 10_000 * 10_000
	const n = 1000
	var sent atomic.Int64
	pubErr := make(chan error, 1)
	// The last quarter waits for the window-size reload to finish, so
	// that some readings come after it however long it takes.
	reloaded := make(chan struct{})
	endReload := sync.OnceFunc(func() { close(reloaded) })
	defer endReload()
	go func() {
		defer close(pubErr)
		for i := 0; i < n; i++ {
			if i == 3*n/4 {
				<-reloaded
			}
			sensor := []string{"s1", "s2"}[i%2]
			tok := pub.Publish("city/d7/air/"+sensor, 1, false, fmt.Sprintf(`{"ts":%d,"pm25":1}`, t0+int64(i)*100))
			if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				pubErr <- fmt.Errorf("publish %d: %v", i, tok.Error())
				return
			}
			sent.Add(1)
		}
	}()
	waitSent := func(k int64) {
		t.Helper()
		testenv.CheckFor(t, 20*time.Second, time.Millisecond, func() error {
			if s := sent.Load(); s < k {
				return fmt.Errorf("published %d of %d", s, k)
			}
			return nil
		})
	}

	// While readings flow: a refused reload (the kafka section cannot
	// change at run time), then the window size changes from 10 s to 5 s.
	waitSent(n / 3)
	bad := load(strings.Replace(base, `brokers: ["127.0.0.1:9"]`, `brokers: ["127.0.0.1:10"]`, 1))
	if err := g.Reload(ctx, bad); !errors.Is(err, pipeline.ErrReloadNeedsRestart) {
		t.Fatalf("reload with a kafka change: %v, want ErrReloadNeedsRestart", err)
	}
	waitSent(n / 2)
	if err := g.Reload(ctx, load(strings.Replace(base, "size: 10s", "size: 5s", 1))); err != nil {
		t.Fatal(err)
	}
	endReload()
	for err := range pubErr {
		t.Fatal(err)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...), kgo.ConsumeTopics("test.air"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var total uint64
	sizes := map[int64]int{}
	windows := map[string]uint64{}
	testenv.CheckFor(t, 30*time.Second, time.Millisecond, func() error {
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
			var v struct {
				Series     string
				Start, End int64
				Count      uint64
			}
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatal(err)
			}
			if v.Series == "d7/flush" {
				return
			}
			k := fmt.Sprintf("%s/%d/%d", v.Series, v.Start, v.End)
			if _, dup := windows[k]; dup {
				t.Errorf("window %s emitted twice", k)
			}
			windows[k] = v.Count
			total += v.Count
			sizes[v.End-v.Start]++
		})
		if total != n {
			return fmt.Errorf("aggregates count %d of %d readings", total, n)
		}
		return nil
	})
	if sizes[10_000] == 0 || sizes[5_000] == 0 {
		t.Fatalf("window sizes seen: %v, want both 10 s (before) and 5 s (after)", sizes)
	}
	srv := scrapeHandler(t, g)
	for _, line := range []string{"edgeplane_gateway_reloads_total 1", "edgeplane_gateway_reload_failures_total 1"} {
		if !strings.Contains(srv, line+"\n") {
			t.Errorf("metrics lack %q", line)
		}
	}
}
