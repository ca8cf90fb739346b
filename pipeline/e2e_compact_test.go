package pipeline_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/sink/compact"
)

// TestEndToEndCompactAndLate runs the spine's scenario with the compact
// output format and a late topic: the compact records decode to exactly
// the expected aggregates, and a reading behind the watermark lands on the
// late topic.
func TestEndToEndCompactAndLate(t *testing.T) {
	kc := testenv.Kafka(t)
	cfg := strings.Replace(fmt.Sprintf(e2eConfig, "%s", "embedded"), "    to: {topic: test.air}",
		"    to: {topic: test.air, format: compact, late_topic: test.late}", 1)
	g := startGateway(t, cfg, kc.ListenAddrs())
	pub := mqttPublisher(t, g.MQTTAddr())
	sc := newTumblingScenario()
	for _, m := range sc.messages {
		publish(t, pub, m[0], m[1])
	}
	var got []kv
	testenv.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		got = got[:0]
		for _, r := range testenv.Consume(t, kc.ListenAddrs(), "test.air", 1, 2*time.Second) {
			var out bytes.Buffer
			if err := compact.WriteJSONLines(&out, r.Value); err != nil {
				t.Fatalf("decode compact record: %v", err)
			}
			sc := bufio.NewScanner(&out)
			for sc.Scan() {
				var v struct{ Series string }
				if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
					t.Fatalf("bad line %s: %v", sc.Text(), err)
				}
				got = append(got, kv{key: v.Series, value: sc.Text()})
			}
		}
		if len(got) < len(sc.want) {
			return fmt.Errorf("%d of %d aggregates", len(got), len(sc.want))
		}
		return nil
	})
	sc.check(t, got)

	// [t0, t0+10s) has fired and, with no allowed lateness, is gone: a
	// reading in it now is late. (Waiting for the aggregates first makes
	// sure the watermark marker reached every shard.)
	publish(t, pub, "city/d7/air/s2", fmt.Sprintf(`{"ts":%d,"pm25":99}`, sc.t0+1_000))
	late := testenv.Consume(t, kc.ListenAddrs(), "test.late", 1, 20*time.Second)
	if len(late) != 1 {
		t.Fatalf("late topic has %d records, want 1", len(late))
	}
	var lv struct {
		Series string
		TS     int64 `json:"ts"`
		Value  float64
	}
	if err := json.Unmarshal(late[0].Value, &lv); err != nil || lv.Series != "d7/s2" || lv.TS != sc.t0+1_000 || lv.Value != 99 {
		t.Fatalf("late record %s (%v)", late[0].Value, err)
	}
}
