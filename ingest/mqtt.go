package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeplane/edgeplane/internal/clock"
)

// MQTTOptions configure an MQTT source.
type MQTTOptions struct {
	// Name names the source in logs and metrics.
	Name string
	// Broker is the broker URL, e.g. tcp://127.0.0.1:1883.
	Broker string
	// Topics are topic filters; each is subscribed with QoS.
	Topics []string
	// QoS is 0 or 1.
	QoS byte
	// ClientID must be stable for a persistent session.
	ClientID string
	// CleanSession false keeps the session (and queued QoS 1 messages)
	// across disconnects.
	CleanSession       bool
	Username, Password string
	// KeepAlive is the MQTT keep-alive; a ping unanswered within it
	// makes paho drop and re-establish the connection. Default 30s.
	KeepAlive time.Duration
	TLS       *tls.Config
	// ConnectTimeout bounds each connection attempt. Default 10s.
	ConnectTimeout time.Duration
	// MaxReconnectInterval caps the reconnect backoff. Default 30s.
	MaxReconnectInterval time.Duration
	// RejectLogInterval limits rejection logs per reason. Default 10s.
	RejectLogInterval time.Duration
	Logger            *slog.Logger
}

// MQTTSource subscribes to topic filters on a broker with paho, decodes
// every message and hands the readings to its Deliver function. It keeps
// reconnecting (and re-subscribing) until Stop.
type MQTTSource struct {
	opts    MQTTOptions
	deliver Deliver
	log     *slog.Logger
	rejects rejectLog
	client  mqtt.Client

	// paho calls the message handler from one goroutine at a time
	// (OrderMatters), so one decoder and batch suffice; mu guards them
	// against a handler racing Stop.
	mu    sync.Mutex
	dec   *Decoder
	batch Batch

	Stats SourceStats
}

// NewMQTTSource validates the options and decode config; it does not
// connect.
func NewMQTTSource(o MQTTOptions, dc *DecodeConfig, deliver Deliver) (*MQTTSource, error) {
	if o.Broker == "" || len(o.Topics) == 0 {
		return nil, errors.New("ingest: mqtt source needs a broker and topics")
	}
	if o.QoS > 1 {
		return nil, fmt.Errorf("ingest: qos %d not supported (0 or 1)", o.QoS)
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 30 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.MaxReconnectInterval <= 0 {
		o.MaxReconnectInterval = 30 * time.Second
	}
	if o.RejectLogInterval <= 0 {
		o.RejectLogInterval = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	dec, err := NewDecoder(dc)
	if err != nil {
		return nil, err
	}
	s := &MQTTSource{opts: o, deliver: deliver, dec: dec, log: o.Logger.With("source", o.Name)}
	s.rejects = rejectLog{log: s.log, interval: o.RejectLogInterval}
	return s, nil
}

// Start connects and subscribes. It returns once the first connection is
// established, or with an error when ctx ends first; paho keeps retrying
// in the background either way until Stop.
func (s *MQTTSource) Start(ctx context.Context) error {
	co := mqtt.NewClientOptions().
		AddBroker(s.opts.Broker).
		SetClientID(s.opts.ClientID).
		SetCleanSession(s.opts.CleanSession).
		SetUsername(s.opts.Username).
		SetPassword(s.opts.Password).
		SetKeepAlive(s.opts.KeepAlive).
		SetPingTimeout(10 * time.Second).
		SetConnectTimeout(s.opts.ConnectTimeout).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(s.opts.MaxReconnectInterval).
		SetOrderMatters(true).
		SetResumeSubs(true).
		SetOnConnectHandler(s.onConnect).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			s.Stats.Connected.Store(false)
			s.Stats.ConnLost.Add(1)
			s.log.Warn("mqtt connection lost; reconnecting", "broker", s.opts.Broker, "err", err)
		}).
		SetDefaultPublishHandler(s.onMessage)
	if s.opts.TLS != nil {
		co.SetTLSConfig(s.opts.TLS)
	}
	s.client = mqtt.NewClient(co)
	tok := s.client.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("ingest: mqtt connect %s: %w", s.opts.Broker, err)
		}
	case <-ctx.Done():
		return fmt.Errorf("ingest: mqtt connect %s: %w", s.opts.Broker, ctx.Err())
	}
	// With ConnectRetry, the token completes only once connected, and
	// onConnect has subscribed; wait for the connected flag it sets.
	for !s.Stats.Connected.Load() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("ingest: mqtt subscribe %s: %w", s.opts.Broker, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// onConnect (re)subscribes every filter. It runs on every connection, so
// a broker that lost the session still gets the subscriptions back.
func (s *MQTTSource) onConnect(c mqtt.Client) {
	filters := make(map[string]byte, len(s.opts.Topics))
	for _, t := range s.opts.Topics {
		filters[t] = s.opts.QoS
	}
	tok := c.SubscribeMultiple(filters, s.onMessage)
	if !tok.WaitTimeout(s.opts.ConnectTimeout) || tok.Error() != nil {
		s.log.Error("mqtt subscribe failed; will retry on reconnect", "topics", s.opts.Topics, "err", tok.Error())
		// Force a reconnect so the subscription is retried.
		go c.Disconnect(100)
		return
	}
	s.Stats.Connects.Add(1)
	s.Stats.Connected.Store(true)
	s.log.Info("mqtt connected", "broker", s.opts.Broker, "topics", s.opts.Topics, "qos", s.opts.QoS)
}

// onMessage decodes one message and delivers its readings. It never
// blocks on anything but Deliver; paho acks a QoS 1 message after it
// returns.
func (s *MQTTSource) onMessage(_ mqtt.Client, m mqtt.Message) {
	now := clock.NowMs()
	s.Stats.Messages.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batch.Reset()
	reason, err := s.dec.Decode(m.Topic(), m.Payload(), now, &s.batch)
	if reason != ReasonNone {
		s.Stats.Rejected[reason].Add(1)
		s.rejects.note(now, reason, m.Topic(), err)
		return
	}
	s.Stats.Accepted.Add(1)
	s.Stats.Readings.Add(uint64(len(s.batch.Readings)))
	s.deliver(&s.batch)
}

// Connected reports whether the source is connected and subscribed.
func (s *MQTTSource) Connected() bool { return s.Stats.Connected.Load() }

// Name returns the source's name.
func (s *MQTTSource) Name() string { return s.opts.Name }

// Stop disconnects, waiting up to quiesce for in-flight work.
func (s *MQTTSource) Stop(quiesce time.Duration) {
	if s.client == nil {
		return
	}
	s.client.Disconnect(uint(quiesce.Milliseconds()))
	s.Stats.Connected.Store(false)
}
