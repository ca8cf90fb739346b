package bench

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// HeapShare is the live Go heap one component of the gateway holds.
type HeapShare struct {
	Component string `json:"component"`
	Bytes     int64  `json:"bytes"`
}

// heapComponents name the gateway's parts by the packages that allocate
// for them, most specific first. An allocation is charged to the first
// frame of its stack, from the allocating one outwards, whose function
// matches one of them; a stack that matches none is "other" (the runtime
// and the standard library on behalf of no one named here).
var heapComponents = []struct{ name, prefix string }{
	{"ingest: paho MQTT client", "github.com/eclipse/paho.mqtt.golang"},
	{"decode (fastjson)", "github.com/valyala/fastjson"},
	{"decode", "github.com/edgeplane/edgeplane/decode"},
	{"ingest", "github.com/edgeplane/edgeplane/ingest"},
	{"ring", "github.com/edgeplane/edgeplane/ring"},
	{"operators: window state", "github.com/edgeplane/edgeplane/operators"},
	{"series table", "github.com/edgeplane/edgeplane/record"},
	{"sink: compression (zstd, s2)", "github.com/klauspost/compress"},
	{"sink: Kafka client (franz-go)", "github.com/twmb/franz-go"},
	{"sink", "github.com/edgeplane/edgeplane/sink"},
	{"nats-server / JetStream", "github.com/nats-io/nats-server"},
	{"nats client", "github.com/nats-io/nats.go"},
	{"natsd", "github.com/edgeplane/edgeplane/natsd"},
	{"metrics", "github.com/VictoriaMetrics/metrics"},
	{"pipeline (read API, counters)", "github.com/edgeplane/edgeplane/pipeline"},
	{"config", "github.com/edgeplane/edgeplane/config"},
}

// HeapByComponent fetches the Go heap profile of the gateway at baseURL
// (its HTTP listener with gateway.pprof on) after a forced GC, so that it
// counts live objects only, and charges every allocation site's in-use
// bytes to a component. The shares are largest first.
func HeapByComponent(ctx context.Context, baseURL string) ([]HeapShare, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bench: heap profile: %s", resp.Status)
	}
	p, err := profile.Parse(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("bench: heap profile: %w", err)
	}
	return chargeHeap(p)
}

// chargeHeap sums p's inuse_space by component.
func chargeHeap(p *profile.Profile) ([]HeapShare, error) {
	idx := -1
	for i, st := range p.SampleType {
		if st.Type == "inuse_space" {
			idx = i
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("bench: heap profile has no inuse_space")
	}
	sums := map[string]int64{}
	for _, s := range p.Sample {
		sums[componentOf(s)] += s.Value[idx]
	}
	out := make([]HeapShare, 0, len(sums))
	for c, b := range sums {
		if b > 0 {
			out = append(out, HeapShare{Component: c, Bytes: b})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Bytes > out[j].Bytes })
	return out, nil
}

func componentOf(s *profile.Sample) string {
	for _, loc := range s.Location {
		// Inlined calls are listed innermost first within a location.
		for _, ln := range loc.Line {
			if ln.Function == nil {
				continue
			}
			for _, c := range heapComponents {
				if strings.HasPrefix(ln.Function.Name, c.prefix) {
					return c.name
				}
			}
		}
	}
	return "other (runtime, standard library)"
}
