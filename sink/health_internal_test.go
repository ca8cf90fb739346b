package sink

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestAttemptHookFound: the forwarder finds the hook NewKafkaClient
// installs, and a failed connection reported through it is counted and
// kept as the last error.
func TestAttemptHookFound(t *testing.T) {
	kc, err := NewKafkaClient(KafkaOptions{Brokers: []string{"127.0.0.1:9"}})
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	h := attemptHookOf(kc)
	if h == nil {
		t.Fatal("hook not found in the client's options")
	}
	f := &Forwarder{opts: ForwarderOptions{StallAfter: time.Second}}
	onErr := func(err error) { f.health.noteError(&f.Stats.Errors, err) }
	h.on.Store(&onErr)
	h.OnBrokerConnect(kgo.BrokerMetadata{}, 0, nil, errors.New("dial tcp: connection refused"))
	if n := f.Stats.Errors.Other.Load() + f.Stats.Errors.Network.Load(); n != 1 {
		t.Errorf("%d errors counted, want 1", n)
	}
	f.health.holding(3)
	f.health.waitingSince.Store(time.Now().Add(-2 * time.Second).UnixMilli())
	stalled, why := f.Stall()
	if !stalled || why != "kafka acknowledged nothing for 2s while 3 frames wait; last error: dial tcp: connection refused" {
		t.Errorf("Stall() = %v, %q", stalled, why)
	}
	f.health.lastAckMs.Store(time.Now().UnixMilli())
	if stalled, why := f.Stall(); stalled {
		t.Errorf("stalled after an acknowledgement: %q", why)
	}
}
