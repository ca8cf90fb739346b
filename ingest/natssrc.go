package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/edgeplane/edgeplane/decode"

	"github.com/nats-io/nats.go"

	"github.com/edgeplane/edgeplane/internal/clock"
)

// Defaults of NATSOptions.
const (
	DefaultNATSPendingMsgs  = 65536
	DefaultNATSPendingBytes = 64 << 20
)

// NATSOptions configure a NATS source: sensors publish over MQTT to the
// embedded server's MQTT listener and the source takes their messages in
// process from NATS, skipping a second MQTT hop.
type NATSOptions struct {
	// Name names the source in logs and metrics.
	Name string
	// Conn is the connection to subscribe on, typically in-process
	// (natsd.Server.Connect). The source does not close it.
	Conn *nats.Conn
	// Topics are MQTT topic filters ('/' levels, '+', '#'), converted to
	// NATS subjects the way the server's MQTT listener maps topics ('/'
	// → '.', '+' → '*', '#' → '>'; "a/#" also subscribes "a", as in
	// MQTT). Message subjects are converted back, so decoders and topic
	// patterns see MQTT topics. The bare filter "#" is refused: it would
	// catch every subject of the account, the gateway's own included; a
	// filter starting with a wildcard does not match subjects starting
	// with '$'.
	Topics []string
	// Queue is the queue group: the subscribers of a group (in this and
	// other processes) share the messages, each delivered to one. Empty
	// means no group, unless Subscribers > 1 (then "edgeplane." + Name).
	Queue string
	// Subscribers is the number of parallel subscriptions per filter,
	// each delivering on its own goroutine with its own decoder. Default 1.
	Subscribers int
	// PendingMsgs and PendingBytes bound each subscription's queue of
	// messages not yet handled; beyond them the client drops messages
	// (counted in Stats.Dropped). Defaults 65536 and 64 MiB.
	PendingMsgs, PendingBytes int
	// RejectLogInterval limits rejection logs per reason. Default 10s.
	RejectLogInterval time.Duration
	// DeadLetter, when set, receives every rejected record.
	DeadLetter DeadLetter
	Logger     *slog.Logger
}

// NATSSource subscribes to NATS subjects that carry MQTT messages and
// hands their readings to its Deliver function. Deliver is called
// concurrently from the subscriptions' goroutines (one at a time per
// subscription). Sensors' QoS 1 publishes are acknowledged by the server
// once stored or routed; the source has no acknowledgements of its own.
type NATSSource struct {
	opts  NATSOptions
	core  *sourceCore
	dc    *decode.Options
	subs  []*natsSub
	mu    sync.Mutex // guards started, stopped, subs
	done  chan struct{}
	wg    sync.WaitGroup
	state int // 0 new, 1 started, 2 stopped

	// dropped counts messages lost by subscriptions already removed.
	dropped uint64

	Stats SourceStats
}

// natsSub is one subscription and the receiver its goroutine owns.
type natsSub struct {
	sub      *nats.Subscription
	rx       *receiver
	topic    []byte // scratch for the MQTT topic of the current message
	noDollar bool   // the filter starts with a wildcard: skip "$…" subjects
}

// NewNATSSource validates the options and decode config; it does not
// subscribe.
func NewNATSSource(o NATSOptions, dc *decode.Options, deliver Deliver) (*NATSSource, error) {
	if o.Conn == nil {
		return nil, errors.New("ingest: nats source needs a connection")
	}
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("ingest: nats source %s: %w", o.Name, err)
	}
	if o.Subscribers <= 0 {
		o.Subscribers = 1
	}
	if o.Queue == "" && o.Subscribers > 1 {
		o.Queue = "edgeplane." + o.Name
	}
	if o.PendingMsgs <= 0 {
		o.PendingMsgs = DefaultNATSPendingMsgs
	}
	if o.PendingBytes <= 0 {
		o.PendingBytes = DefaultNATSPendingBytes
	}
	if _, err := decode.NewDecoder(dc); err != nil {
		return nil, err
	}
	s := &NATSSource{opts: o, dc: dc}
	s.core = newSourceCore(o.Name, deliver, o.DeadLetter, o.Logger, o.RejectLogInterval, &s.Stats)
	return s, nil
}

// Start subscribes every filter Subscribers times and flushes the
// subscriptions to the server. An error leaves nothing subscribed; ctx is
// not used (subscribing in process does not wait on a network).
func (s *NATSSource) Start(_ context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != 0 {
		return errors.New("ingest: nats source already started")
	}
	s.state = 1
	for range s.opts.Subscribers {
		for _, t := range s.opts.Topics {
			subj, parent, _ := MQTTFilterToSubjects(t)
			for _, sj := range []string{subj, parent} {
				if sj == "" {
					continue
				}
				if err := s.subscribe(sj, t[0] == '+' || t[0] == '#'); err != nil {
					s.unsubscribeLocked()
					s.state = 2
					return err
				}
			}
		}
	}
	if err := s.opts.Conn.Flush(); err != nil {
		s.unsubscribeLocked()
		s.state = 2
		return fmt.Errorf("ingest: nats source %s: flush subscriptions: %w", s.opts.Name, err)
	}
	s.Stats.Connects.Add(1)
	s.done = make(chan struct{})
	s.wg.Add(1)
	go s.watch()
	s.refresh()
	s.core.log.Info("nats source subscribed", "topics", s.opts.Topics, "queue", s.opts.Queue, "subscriptions", len(s.subs))
	return nil
}

func (s *NATSSource) subscribe(subject string, noDollar bool) error {
	rx, err := newReceiver(s.core, s.dc)
	if err != nil {
		return err
	}
	ns := &natsSub{rx: rx, noDollar: noDollar}
	if s.opts.Queue != "" {
		ns.sub, err = s.opts.Conn.QueueSubscribe(subject, s.opts.Queue, ns.onMsg)
	} else {
		ns.sub, err = s.opts.Conn.Subscribe(subject, ns.onMsg)
	}
	if err != nil {
		return fmt.Errorf("ingest: nats source %s: subscribe %q: %w", s.opts.Name, subject, err)
	}
	if err := ns.sub.SetPendingLimits(s.opts.PendingMsgs, s.opts.PendingBytes); err != nil {
		_ = ns.sub.Unsubscribe()
		return fmt.Errorf("ingest: nats source %s: pending limits: %w", s.opts.Name, err)
	}
	s.subs = append(s.subs, ns)
	return nil
}

// onMsg runs on the subscription's goroutine.
func (ns *natsSub) onMsg(m *nats.Msg) {
	if ns.noDollar && strings.HasPrefix(m.Subject, "$") {
		return
	}
	now := clock.NowMs()
	ns.topic = AppendMQTTTopic(ns.topic[:0], m.Subject)
	// The decoder retains nothing of the topic; reject logs copy it.
	topic := unsafe.String(unsafe.SliceData(ns.topic), len(ns.topic))
	ns.rx.handle(topic, m.Data, now)
}

// watch refreshes the connection state and drop counts once a second.
func (s *NATSSource) watch() {
	defer s.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			s.mu.Lock()
			s.refresh()
			s.mu.Unlock()
		}
	}
}

// refresh updates Stats.Connected, Connections and Dropped; s.mu is held.
func (s *NATSSource) refresh() {
	up := 0
	dropped := s.dropped
	for _, ns := range s.subs {
		if ns.sub.IsValid() {
			up++
		}
		if d, err := ns.sub.Dropped(); err == nil {
			dropped += uint64(d)
		}
	}
	s.Stats.Dropped.Store(dropped)
	s.Stats.Connections.Store(int64(up))
	s.Stats.Connected.Store(s.state == 1 && up == len(s.subs) && s.opts.Conn.IsConnected())
}

// Connected reports whether every subscription is active on a connected
// connection.
func (s *NATSSource) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh()
	return s.Stats.Connected.Load()
}

// Name returns the source's name.
func (s *NATSSource) Name() string { return s.opts.Name }

// SourceStats returns the source's counters.
func (s *NATSSource) SourceStats() *SourceStats { return &s.Stats }

// Stop drains every subscription: the server stops sending, and messages
// already queued are handled, for up to quiesce; what is still queued
// then is dropped and counted in Stats.Dropped.
func (s *NATSSource) Stop(quiesce time.Duration) {
	s.mu.Lock()
	if s.state != 1 {
		s.state = 2
		s.mu.Unlock()
		return
	}
	s.state = 2
	close(s.done)
	for _, ns := range s.subs {
		_ = ns.sub.Drain()
	}
	s.mu.Unlock()
	s.wg.Wait()

	deadline := time.Now().Add(quiesce)
	for {
		valid := 0
		for _, ns := range s.subs {
			if ns.sub.IsValid() {
				valid++
			}
		}
		if valid == 0 || !time.Now().Before(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unsubscribeLocked()
	s.refresh()
}

// unsubscribeLocked removes every subscription, counting what they
// dropped or still held.
func (s *NATSSource) unsubscribeLocked() {
	for _, ns := range s.subs {
		if d, err := ns.sub.Dropped(); err == nil {
			s.dropped += uint64(d)
		}
		if n, _, err := ns.sub.Pending(); err == nil {
			s.dropped += uint64(n)
		}
		_ = ns.sub.Unsubscribe()
	}
	s.subs = nil
	s.Stats.Dropped.Store(s.dropped)
}

// MQTTFilterToSubjects converts an MQTT topic filter to the NATS subject
// the server's MQTT listener uses for it, plus, for a filter ending in
// "/#", the subject of its parent level (MQTT's "a/#" matches "a"; NATS's
// "a.>" does not). It refuses the bare "#", empty filters, whitespace,
// and wildcards that do not fill a level.
func MQTTFilterToSubjects(filter string) (subject, parent string, err error) {
	if filter == "" {
		return "", "", errors.New("empty topic filter")
	}
	if filter == "#" {
		return "", "", errors.New(`topic filter "#" would subscribe every NATS subject, the gateway's own included; name a first level`)
	}
	if strings.HasPrefix(filter, "$share/") {
		return "", "", fmt.Errorf("topic filter %q: use queue and subscribers instead of a shared subscription", filter)
	}
	levels := strings.Split(filter, "/")
	for i, lv := range levels {
		if lv == "#" && i != len(levels)-1 || lv != "#" && lv != "+" && strings.ContainsAny(lv, "+#") {
			return "", "", fmt.Errorf("topic filter %q: wildcards must fill a level, '#' only the last", filter)
		}
	}
	if strings.ContainsAny(filter, " \t\r\n\f\x7f") {
		return "", "", fmt.Errorf("topic filter %q: whitespace is not allowed", filter)
	}
	b := appendNATSSubject(nil, filter)
	subject = string(b)
	if strings.HasSuffix(filter, "/#") {
		parent = string(appendNATSSubject(nil, filter[:len(filter)-2]))
	}
	return subject, parent, nil
}

// appendNATSSubject converts an MQTT topic or filter to a NATS subject as
// nats-server's MQTT listener does (mqttToNATSSubjectConversion): levels
// joined with '.', an empty level as "/", a '.' in a level as "//", '+'
// as '*' and '#' as '>'.
func appendNATSSubject(dst []byte, topic string) []byte {
	start := len(dst)
	for i := 0; i < len(topic); i++ {
		switch c := topic[i]; c {
		case '/':
			switch {
			case i == 0 || dst[len(dst)-1] == '.':
				dst = append(dst, '/', '.')
			case i == len(topic)-1 || topic[i+1] == '/':
				dst = append(dst, '.', '/')
			default:
				dst = append(dst, '.')
			}
		case '.':
			dst = append(dst, '/', '/')
		case '+':
			dst = append(dst, '*')
		case '#':
			dst = append(dst, '>')
		default:
			dst = append(dst, c)
		}
	}
	if len(dst) > start && dst[len(dst)-1] == '.' {
		dst = append(dst, '/')
	}
	return dst
}

// AppendMQTTTopic appends the MQTT topic of a NATS subject to dst,
// reversing the server's MQTT mapping: '.' separates levels, "/." or "./"
// around a separator stands for an empty level, "//" for a '.' in a
// level. A subject published by a plain NATS client ("a.b.c") reads as
// "a/b/c". It does not allocate when dst has room.
func AppendMQTTTopic(dst []byte, subject string) []byte {
	for i := 0; i < len(subject); i++ {
		switch c := subject[i]; c {
		case '/':
			if i+1 < len(subject) {
				switch subject[i+1] {
				case '.':
					dst = append(dst, '/')
					i++
				case '/':
					dst = append(dst, '.')
					i++
				}
			}
		case '.':
			dst = append(dst, '/')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
