package sink

import (
	"errors"
	"net"
	"reflect"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DefaultStallAfter is the default ForwarderOptions.StallAfter: how long
// Kafka may acknowledge nothing while frames wait before the forwarder
// reports a stall.
const DefaultStallAfter = 60 * time.Second

// health is the forwarder's view of its own progress: when Kafka last
// acknowledged a record, since when frames wait, the last error, and the
// topics whose metadata must be reloaded before the next attempt.
type health struct {
	lastAckMs    atomic.Int64 // wall time of the last record Kafka acknowledged
	waitingSince atomic.Int64 // wall time the frames in hand were fetched; 0 when none
	waiting      atomic.Int64 // frames in hand not yet delivered
	lastErr      atomic.Pointer[string]

	mu    sync.Mutex
	purge map[string]struct{}
}

// noteError keeps err as the last error and counts it by cause in errs.
func (h *health) noteError(errs *KafkaErrors, err error) {
	errs.count(err)
	s := err.Error()
	h.lastErr.Store(&s)
}

// notePurge marks topic for a metadata reload if err says the client's
// idea of it is stale: the topic was deleted (UNKNOWN_TOPIC_OR_PARTITION)
// or deleted and created again under a new id (UNKNOWN_TOPIC_ID, which
// franz-go keeps returning until the topic is purged from the client).
func (h *health) notePurge(topic string, err error) {
	if !errors.Is(err, kerr.UnknownTopicID) && !errors.Is(err, kerr.UnknownTopicOrPartition) {
		return
	}
	h.mu.Lock()
	if h.purge == nil {
		h.purge = map[string]struct{}{}
	}
	h.purge[topic] = struct{}{}
	h.mu.Unlock()
}

// takePurge returns and forgets the topics marked by notePurge.
func (h *health) takePurge() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.purge))
	for t := range h.purge {
		out = append(out, t)
	}
	clear(h.purge)
	sort.Strings(out)
	return out
}

// purgeStale drops the client's state of the topics whose records failed
// because the topic was deleted or recreated, so that the next attempt
// loads fresh metadata (and the new topic id) instead of failing with
// UNKNOWN_TOPIC_ID until a restart. It runs between attempts, when no
// record of the batch is in flight; records of other topics are not
// affected. This is franz-go's documented way to resume after a topic was
// recreated; a new client would do the same, at the cost of its
// connections and producer id.
func (f *Forwarder) purgeStale() {
	topics := f.health.takePurge()
	if len(topics) == 0 {
		return
	}
	f.kc.PurgeTopicsFromProducing(topics...)
	f.Stats.TopicPurges.Add(uint64(len(topics)))
	f.rl.Warn("kafka topic unknown or recreated; reloading its metadata", "topics", topics)
}

// Stall reports whether forwarding is stalled: frames wait and Kafka has
// acknowledged nothing for longer than StallAfter (counted from the later
// of the last acknowledgement and the moment the waiting frames were
// fetched). reason then says for how long, how many frames wait, and the
// last error. It clears with the next acknowledgement.
func (f *Forwarder) Stall() (stalled bool, reason string) {
	return f.stallAt(time.Now())
}

func (f *Forwarder) stallAt(now time.Time) (bool, string) {
	h := &f.health
	since := h.waitingSince.Load()
	if since == 0 || h.waiting.Load() == 0 {
		return false, ""
	}
	since = max(since, h.lastAckMs.Load())
	idle := now.Sub(time.UnixMilli(since))
	if idle <= f.opts.StallAfter {
		return false, ""
	}
	reason := "kafka acknowledged nothing for " + idle.Round(100*time.Millisecond).String() + " while " +
		strconv.FormatInt(h.waiting.Load(), 10) + " frames wait"
	if e := h.lastErr.Load(); e != nil {
		reason += "; last error: " + *e
	} else {
		reason += "; no error reported (records pending)"
	}
	return true, reason
}

// holding notes that n frames are in hand from now (0: none).
func (h *health) holding(n int) {
	if n == 0 {
		h.waiting.Store(0)
		h.waitingSince.Store(0)
		return
	}
	if h.waiting.Swap(int64(n)) == 0 {
		h.waitingSince.Store(time.Now().UnixMilli())
	}
}

// attemptHook counts the Kafka client's failed attempts that never reach
// a record's promise: connections that failed and produce requests whose
// connection failed, which the client retries by itself. Without it an
// unreachable broker would leave no trace in the error counters until
// DeliveryTimeout. (Batches a broker refuses with a retriable error fail
// their records after recordRetries tries and are counted by the
// forwarder; franz-go reports those retries nowhere else.)
type attemptHook struct {
	on atomic.Pointer[func(error)]
}

func (a *attemptHook) report(err error) {
	if f := a.on.Load(); f != nil {
		(*f)(err)
	}
}

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (a *attemptHook) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		a.report(err)
	}
}

// OnBrokerWrite implements kgo.HookBrokerWrite.
func (a *attemptHook) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err != nil && key == int16(kmsg.Produce) {
		a.report(err)
	}
}

// OnBrokerRead implements kgo.HookBrokerRead.
func (a *attemptHook) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err != nil && key == int16(kmsg.Produce) {
		a.report(err)
	}
}

// attemptHookOf returns the attemptHook NewKafkaClient installed in kc,
// or nil for a client built otherwise.
func attemptHookOf(kc *kgo.Client) *attemptHook {
	var find func(v any) *attemptHook
	find = func(v any) *attemptHook {
		if h, ok := v.(*attemptHook); ok {
			return h
		}
		rv := reflect.ValueOf(v)
		if rv.Kind() == reflect.Slice {
			for i := 0; i < rv.Len(); i++ {
				if h := find(rv.Index(i).Interface()); h != nil {
					return h
				}
			}
		}
		return nil
	}
	for _, v := range kc.OptValues(kgo.WithHooks) {
		if h := find(v); h != nil {
			return h
		}
	}
	return nil
}
