package ingest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgeplane/edgeplane/decode"

	"github.com/edgeplane/edgeplane/internal/clock"
	"github.com/edgeplane/edgeplane/internal/ratelog"
)

// Defaults of MQTTOptions.
const (
	DefaultMQTTKeepAlive      = 30 * time.Second
	DefaultMQTTPingTimeout    = 10 * time.Second
	DefaultMQTTConnectTimeout = 10 * time.Second
	DefaultMQTTMaxReconnect   = 30 * time.Second
	DefaultMQTTMaxUnacked     = 1024
)

// MQTTOptions configure an MQTT source.
type MQTTOptions struct {
	// Name names the source in logs and metrics.
	Name string
	// Broker is the broker URL: tcp:// or mqtt:// (plain), ssl://, tls://,
	// mqtts:// or tcps:// (TLS), ws:// or wss:// (MQTT over WebSocket).
	Broker string
	// Topics are topic filters; each is subscribed with QoS. With more
	// than one connection, either every filter is a shared subscription
	// ($share/GROUP/FILTER; Mosquitto ≥ 1.6, EMQX, HiveMQ) so the broker
	// splits the messages among the connections, or SplitTopics is set;
	// else each connection would receive every message.
	Topics []string
	// SplitTopics makes connection i subscribe only to the filters i,
	// i+N, i+2N, … (N = Connections) instead of all of them: parallel
	// connections for brokers without shared subscriptions, such as the
	// embedded NATS MQTT listener. The filters must not overlap, and
	// there must be at least as many as connections.
	SplitTopics bool
	// QoS is 0 or 1.
	QoS byte
	// ClientID must be stable for a persistent session. With Connections
	// > 1, connection i uses ClientID-i (i from 0); with one connection,
	// ClientID itself. Required when CleanSession is false; when empty, a
	// random id is made.
	ClientID string
	// CleanSession false keeps the session (subscriptions and queued QoS
	// 1 messages) across disconnects.
	CleanSession       bool
	Username, Password string
	// Connections is the number of parallel broker connections, each
	// with its own receive goroutine, decoder and batch, so more than one
	// core can ingest (paho's receive path is one goroutine per
	// connection). Default 1.
	Connections int
	// KeepAlive is the MQTT keep-alive: paho pings after this long
	// without traffic. Default 30s.
	KeepAlive time.Duration
	// PingTimeout is how long paho waits for a ping response before it
	// drops the connection. Default 10s, at most KeepAlive.
	PingTimeout time.Duration
	// StaleTimeout is the watchdog's bound: a connection that received
	// nothing — no message, no ping response — for this long is closed
	// and re-established, even if paho's own keep-alive is stuck (for
	// example behind a write blocked on a dead peer). It must exceed
	// KeepAlive+PingTimeout. Default 1.5×KeepAlive + PingTimeout.
	StaleTimeout time.Duration
	// TLS configures TLS for ssl://, tls://, mqtts://, tcps:// and wss://
	// brokers (CA pool, client certificate).
	TLS *tls.Config
	// ConnectTimeout bounds each connection attempt and subscription.
	// Default 10s.
	ConnectTimeout time.Duration
	// MaxReconnectInterval caps the reconnect backoff, which starts at
	// one second and doubles. Default 30s.
	MaxReconnectInterval time.Duration
	// HoldAcks turns paho's automatic acknowledgement off (QoS 1 only):
	// each QoS 1 message is acknowledged once AckThrough is called with
	// its sequence number (decode.Batch.Seq) or a higher one, in arrival order.
	// Requires QoS 1 and CleanSession false (else the broker forgets the
	// unacknowledged messages on reconnect). See holdack.go for the
	// waiting rules.
	HoldAcks bool
	// MaxUnacked bounds the messages held unacknowledged per connection
	// with HoldAcks; when reached, the connection's receive goroutine
	// waits for AckThrough. Default 1024. Brokers bound in-flight QoS 1
	// messages per client too (NATS: mqtt max_ack_pending, default 1024;
	// Mosquitto: max_inflight_messages, default 20): the smaller bound
	// governs.
	MaxUnacked int
	// RejectLogInterval limits rejection logs per reason. Default 10s.
	RejectLogInterval time.Duration
	// DeadLetter, when set, receives every rejected record.
	DeadLetter DeadLetter
	Logger     *slog.Logger
}

// MQTTSource subscribes to topic filters on a broker with paho over one or
// more connections, decodes every message and hands the readings to its
// Deliver function. It keeps reconnecting (with backoff) and
// re-subscribing until Stop.
//
// Deliver is called concurrently from the connections' receive goroutines
// (one at a time per connection). Start, Stop, Quiesce and AckThrough may
// be called from any goroutine.
type MQTTSource struct {
	opts     MQTTOptions
	core     *sourceCore
	rl       *ratelog.Logger // dial, subscribe, reconnect and stale warnings
	conns    []*mqttConn
	quiesced atomic.Bool
	staleMs  atomic.Int64 // StaleTimeout; atomic so tests can shorten it
	// epoch counts the network connections opened (see Epoch).
	epoch atomic.Uint64

	connMu sync.Mutex // serializes setConnected; a leaf lock

	mu      sync.Mutex // guards started, stopped
	started bool
	stopped bool
	stopWD  chan struct{}
	wdDone  chan struct{}

	Stats SourceStats
}

// NewMQTTSource validates the options and decode config; it does not
// connect.
func NewMQTTSource(o MQTTOptions, dc *decode.Options, deliver Deliver) (*MQTTSource, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("ingest: mqtt source %s: %w", o.Name, err)
	}
	if o.Connections <= 0 {
		o.Connections = 1
	}
	if o.ClientID == "" {
		var r [4]byte
		_, _ = rand.Read(r[:])
		o.ClientID = "edgeplane-" + o.Name + "-" + hex.EncodeToString(r[:])
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = DefaultMQTTKeepAlive
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = min(DefaultMQTTPingTimeout, o.KeepAlive)
	}
	if o.StaleTimeout <= 0 {
		o.StaleTimeout = o.KeepAlive*3/2 + o.PingTimeout
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultMQTTConnectTimeout
	}
	if o.MaxReconnectInterval <= 0 {
		o.MaxReconnectInterval = DefaultMQTTMaxReconnect
	}
	if o.MaxUnacked <= 0 {
		o.MaxUnacked = DefaultMQTTMaxUnacked
	}
	s := &MQTTSource{opts: o}
	s.staleMs.Store(o.StaleTimeout.Milliseconds())
	s.core = newSourceCore(o.Name, deliver, o.DeadLetter, o.Logger, o.RejectLogInterval, &s.Stats)
	s.rl = ratelog.New(s.core.log, ratelog.DefaultInterval)
	for i := range o.Connections {
		id := o.ClientID
		if o.Connections > 1 {
			id += "-" + strconv.Itoa(i)
		}
		c, err := newMQTTConn(s, i, id, dc)
		if err != nil {
			return nil, err
		}
		s.conns = append(s.conns, c)
	}
	return s, nil
}

// Start connects every connection and subscribes. It returns once all
// are connected and subscribed, or with an error when ctx ends first;
// paho keeps retrying in the background either way until Stop.
func (s *MQTTSource) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.started || s.stopped {
		s.mu.Unlock()
		return errors.New("ingest: mqtt source already started")
	}
	s.started = true
	s.stopWD, s.wdDone = make(chan struct{}), make(chan struct{})
	for _, c := range s.conns {
		c.start()
	}
	s.mu.Unlock()
	go s.watchdog()
	for _, c := range s.conns {
		select {
		case <-c.up:
		case <-s.stopWD:
			return fmt.Errorf("ingest: mqtt source %s stopped while connecting", s.opts.Name)
		case <-ctx.Done():
			return fmt.Errorf("ingest: mqtt connect %s as %s: %w", s.opts.Broker, c.id, ctx.Err())
		}
	}
	return nil
}

// watchdog closes connections that received nothing for StaleTimeout:
// paho then reconnects them.
func (s *MQTTSource) watchdog() {
	defer close(s.wdDone)
	period := max(time.Duration(s.staleMs.Load())*time.Millisecond/4, 10*time.Millisecond)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-s.stopWD:
			return
		case <-t.C:
		}
		now := clock.NowMs()
		for _, c := range s.conns {
			wc := c.net.Load()
			if wc == nil || wc.closed.Load() {
				continue
			}
			if idle := now - wc.lastRead.Load(); idle > s.staleMs.Load() {
				s.Stats.Stale.Add(1)
				s.rl.Warn("mqtt connection stale; closing it to reconnect", "client_id", c.id,
					"idle", time.Duration(idle)*time.Millisecond, "stale_timeout", time.Duration(s.staleMs.Load())*time.Millisecond)
				wc.kill()
			}
		}
	}
}

// setConnected recomputes Stats.Connected and Stats.Connections. Each
// paho callback calls it; connMu keeps two of them from storing their
// counts out of order.
func (s *MQTTSource) setConnected() {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	n := 0
	for _, c := range s.conns {
		if c.isUp() {
			n++
		}
	}
	s.Stats.Connections.Store(int64(n))
	s.Stats.Connected.Store(n == len(s.conns))
}

// Connected reports whether every connection is connected and subscribed.
func (s *MQTTSource) Connected() bool { return s.Stats.Connected.Load() }

// Name returns the source's name.
func (s *MQTTSource) Name() string { return s.opts.Name }

// SourceStats returns the source's counters.
func (s *MQTTSource) SourceStats() *SourceStats { return &s.Stats }

// ClientIDs returns the client id of each connection.
func (s *MQTTSource) ClientIDs() []string {
	ids := make([]string, len(s.conns))
	for i, c := range s.conns {
		ids[i] = c.id
	}
	return ids
}

// AckThrough acknowledges, on every connection and in arrival order,
// each held QoS 1 message whose sequence number (decode.Batch.Seq) is ≤ seq, and
// returns how many it acknowledged. Messages without readings are
// acknowledged with the message before them. It is a no-op without
// HoldAcks. Safe for concurrent use; it blocks only while paho hands the
// acknowledgements to its writer.
func (s *MQTTSource) AckThrough(seq uint64) int {
	if !s.opts.HoldAcks {
		return 0
	}
	n := 0
	for _, c := range s.conns {
		n += c.acks.through(seq)
	}
	return n
}

// Epoch returns the number of network connections the source has opened
// so far, over all its connections. It moves when a connection is dialed,
// before paho reads anything from it: a Deliver call that sees a value
// newer than the last one it saw may carry a message the broker
// redelivers because its acknowledgement was lost with an earlier
// connection.
func (s *MQTTSource) Epoch() uint64 { return s.epoch.Load() }

// Unacked returns the number of messages held unacknowledged.
func (s *MQTTSource) Unacked() int {
	return int(s.Stats.Unacked.Load())
}

// Quiesce stops delivering, for a graceful stop with held acks: every
// message arriving after it is abandoned (not delivered, not
// acknowledged; the broker redelivers it to the next session), while the
// connections stay up so AckThrough can still acknowledge what was
// delivered before. Then call Stop. Without HoldAcks it does nothing:
// paho acknowledges each message after the handler returns, so
// abandoning it would lose it.
func (s *MQTTSource) Quiesce() {
	if s.opts.HoldAcks {
		s.quiesced.Store(true)
	}
}

// Stop disconnects every connection, waiting up to quiesce for in-flight
// work. Held messages not yet acknowledged stay unacknowledged: the broker
// redelivers them to the next session.
func (s *MQTTSource) Stop(quiesce time.Duration) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	started := s.started
	s.mu.Unlock()
	if !started {
		return
	}
	s.quiesced.Store(true)
	close(s.stopWD)
	<-s.wdDone
	var wg sync.WaitGroup
	for _, c := range s.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.stop(quiesce)
		}()
	}
	wg.Wait()
	s.setConnected()
}
