package ingest

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgeplane/edgeplane/decode"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeplane/edgeplane/internal/clock"
)

// mqttConn is one broker connection of an MQTTSource: its paho client,
// and the receiver (decoder, batch) and held-ack queue that paho's receive
// goroutine of this connection owns.
type mqttConn struct {
	s      *MQTTSource
	idx    int
	id     string
	client mqtt.Client
	rx     *receiver
	acks   *ackQueue                 // nil without HoldAcks
	net    atomic.Pointer[watchConn] // the current network connection
	up     chan struct{}             // closed on the first subscription
	upOnce sync.Once
	// closed stops paho from dialing again: set before the source stops or
	// is killed, so an auto-reconnect cannot race the stop and take the
	// session over from the source's successor.
	closed atomic.Bool
}

func newMQTTConn(s *MQTTSource, idx int, id string, dc *decode.Options) (*mqttConn, error) {
	rx, err := newReceiver(s.core, dc)
	if err != nil {
		return nil, err
	}
	c := &mqttConn{s: s, idx: idx, id: id, rx: rx, up: make(chan struct{})}
	if s.opts.HoldAcks {
		c.acks = newAckQueue(s.opts.MaxUnacked, func(d int64) { s.Stats.Unacked.Add(d) }, &s.Stats.AckWaits)
	}
	o := &s.opts
	co := mqtt.NewClientOptions().
		AddBroker(o.Broker).
		SetClientID(id).
		SetCleanSession(o.CleanSession).
		SetUsername(o.Username).
		SetPassword(o.Password).
		SetKeepAlive(o.KeepAlive).
		SetPingTimeout(o.PingTimeout).
		SetConnectTimeout(o.ConnectTimeout).
		SetWriteTimeout(o.ConnectTimeout).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(o.MaxReconnectInterval).
		SetOrderMatters(true).
		// No ResumeSubs: onConnect subscribes on every connection. With
		// it, paho stores onConnect's SUBSCRIBE and its resume, running
		// at the same time, may send it again under the same packet id
		// and complete onConnect's token before any SUBACK (seen: Start
		// returned before the broker had the subscription, and QoS 1
		// messages published right after were never delivered).
		SetResumeSubs(false).
		SetAutoAckDisabled(o.HoldAcks).
		SetCustomOpenConnectionFn(c.open).
		SetOnConnectHandler(c.onConnect).
		SetConnectionLostHandler(c.onLost).
		SetDefaultPublishHandler(c.onMessage)
	if o.TLS != nil {
		co.SetTLSConfig(o.TLS)
	}
	c.client = mqtt.NewClient(co)
	return c, nil
}

// start makes paho connect, retrying in the background.
func (c *mqttConn) start() {
	c.client.Connect()
}

func (c *mqttConn) stop(quiesce time.Duration) {
	c.closed.Store(true)
	c.client.Disconnect(uint(quiesce.Milliseconds()))
	c.s.setConnected()
	if c.acks != nil {
		c.acks.reset()
	}
}

// onConnect (re)subscribes every filter. It runs on every connection, so
// a broker that lost the session still gets the subscriptions back. The
// filters are subscribed without a callback: every message goes to the
// default handler exactly once, even when several filters match it.
func (c *mqttConn) onConnect(cl mqtt.Client) {
	o := &c.s.opts
	wc := c.net.Load() // the connection paho just opened
	kill := func() {
		if wc != nil {
			wc.kill() // paho reconnects, and onConnect retries
		}
	}
	topics := c.topics()
	filters := make(map[string]byte, len(topics))
	for _, t := range topics {
		filters[t] = o.QoS
	}
	tok := cl.SubscribeMultiple(filters, nil)
	if !tok.WaitTimeout(o.ConnectTimeout) || tok.Error() != nil {
		c.s.rl.Error("mqtt subscribe failed; reconnecting to retry", "client_id", c.id, "topics", topics, "err", tok.Error())
		kill()
		return
	}
	if st, ok := tok.(*mqtt.SubscribeToken); ok {
		res := st.Result()
		for _, t := range topics {
			r, acked := res[t]
			switch {
			case !acked:
				// A token completed without this filter's SUBACK: the
				// broker may not have the subscription yet.
				c.s.rl.Error("mqtt subscribe completed without the broker's SUBACK; reconnecting to retry", "client_id", c.id, "topic", t)
				kill()
				return
			case r == 0x80:
				c.s.rl.Error("mqtt subscription refused by the broker", "client_id", c.id, "topic", t)
			}
		}
	}
	c.s.Stats.Connects.Add(1)
	if wc != nil {
		wc.subscribed.Store(true)
	}
	c.s.setConnected()
	c.upOnce.Do(func() { close(c.up) })
	c.s.rl.Info("mqtt connected", "broker", o.Broker, "client_id", c.id, "topics", topics, "qos", o.QoS)
}

// topics returns the filters this connection subscribes.
func (c *mqttConn) topics() []string {
	o := &c.s.opts
	if !o.SplitTopics {
		return o.Topics
	}
	var ts []string
	for i := c.idx; i < len(o.Topics); i += o.Connections {
		ts = append(ts, o.Topics[i])
	}
	return ts
}

// isUp reports whether the current network connection is open and the
// broker confirmed its subscription. Up is not a flag that onConnect sets
// and onLost clears: paho runs each handler on a goroutine of its own and
// starts the lost handler and the reconnect together, and a lost handler
// that ran after the reconnect's onConnect cleared a connection that was
// up (seen in CI: a reconnected source reported not connected until its
// next reconnect). Each handler now writes only to its own connection.
func (c *mqttConn) isUp() bool {
	wc := c.net.Load()
	return wc != nil && wc.subscribed.Load() && !wc.closed.Load()
}

// onLost runs after paho closed the lost connection (stopCommsWorkers),
// so setConnected no longer counts it, unless a reconnect has already
// subscribed on a new one.
func (c *mqttConn) onLost(_ mqtt.Client, err error) {
	c.s.setConnected()
	c.s.Stats.ConnLost.Add(1)
	c.s.rl.Warn("mqtt connection lost; reconnecting", "broker", c.s.opts.Broker, "client_id", c.id, "err", err)
}

// onMessage decodes one message and delivers its readings. It runs on
// paho's receive goroutine of this connection and never blocks on
// anything but Deliver and, with held acks, room in the ack queue. paho
// acknowledges a QoS 1 message after it returns unless acks are held.
func (c *mqttConn) onMessage(_ mqtt.Client, m mqtt.Message) {
	now := clock.NowMs()
	q := c.acks
	if q == nil || m.Qos() == 0 {
		c.rx.handle(m.Topic(), m.Payload(), now)
		return
	}
	q.sameEpoch(c.net.Load())
	if c.s.quiesced.Load() || !q.waitRoom(c.abortWait) {
		c.s.Stats.Messages.Add(1)
		c.s.Stats.Abandoned.Add(1)
		return
	}
	if !c.rx.decode(m.Topic(), m.Payload(), now) {
		q.ackOrQueue(m)
		return
	}
	seq := c.s.core.seq.Add(1)
	q.push(seq, m)
	c.rx.deliverSeq(seq)
}

// abortWait ends a wait for room in the ack queue: the connection is no
// longer open (its acknowledgements would be dropped) or the source is
// quiescing.
func (c *mqttConn) abortWait() bool {
	return c.s.quiesced.Load() || !c.client.IsConnectionOpen()
}

// open dials the broker for paho, wrapping the connection so the
// watchdog sees when it last received anything.
func (c *mqttConn) open(uri *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
	if c.closed.Load() {
		return nil, fmt.Errorf("ingest: mqtt source %s is stopped", c.s.opts.Name)
	}
	d := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	var nc net.Conn
	var err error
	switch uri.Scheme {
	case "tcp", "mqtt":
		nc, err = d.Dial("tcp", uri.Host)
	case "ssl", "tls", "mqtts", "mqtt+ssl", "tcps":
		tc := o.TLSConfig
		if tc == nil {
			tc = &tls.Config{}
		}
		nc, err = tls.DialWithDialer(d, "tcp", uri.Host, tc)
	case "ws", "wss":
		u := *uri
		u.User = nil
		var tc *tls.Config
		if uri.Scheme == "wss" {
			tc = o.TLSConfig
		}
		nc, err = mqtt.NewWebsocket(u.String(), tc, o.ConnectTimeout, o.HTTPHeaders, o.WebsocketOptions)
	case "unix":
		p := uri.Host
		if p == "" {
			p = uri.Path
		}
		nc, err = d.Dial("unix", p)
	default:
		return nil, fmt.Errorf("ingest: unknown mqtt broker scheme %q", uri.Scheme)
	}
	if err != nil {
		c.s.Stats.DialFailed.Add(1)
		if !c.closed.Load() {
			c.s.rl.Warn("mqtt broker unreachable; retrying in the background", "broker", c.s.opts.Broker, "client_id", c.id, "err", err)
		}
		return nil, err
	}
	wc := &watchConn{Conn: nc, br: bufio.NewReaderSize(nc, 16<<10)}
	wc.lastRead.Store(clock.NowMs())
	c.net.Store(wc)
	c.s.epoch.Add(1)
	return wc, nil
}

// watchConn records when a connection last received bytes, and lets the
// source break it. It also buffers reads: paho reads each packet's header
// a byte at a time straight from the connection, three or more system
// calls per message without a buffer. Only paho's reader goroutine reads.
type watchConn struct {
	net.Conn
	br         *bufio.Reader
	lastRead   atomic.Int64 // Unix ms, coarse clock
	closed     atomic.Bool
	killed     atomic.Bool
	subscribed atomic.Bool // the broker confirmed the subscription on it
}

// errConnKilled is what paho's reader sees on a connection the source
// broke: paho ignores "use of closed network connection" (it assumes it
// closed the connection itself), so a plain Close would not make it
// reconnect.
var errConnKilled = errors.New("ingest: connection closed by the source (stale or subscription failed)")

func (w *watchConn) Read(p []byte) (int, error) {
	n, err := w.br.Read(p)
	if n > 0 {
		w.lastRead.Store(clock.NowMs())
	}
	if err != nil {
		if w.killed.Load() {
			err = errConnKilled
		}
		if errors.Is(err, net.ErrClosed) {
			w.closed.Store(true)
		}
	}
	return n, err
}

func (w *watchConn) Close() error {
	w.closed.Store(true)
	return w.Conn.Close()
}

// kill closes the connection so that paho sees an error and reconnects.
func (w *watchConn) kill() {
	w.killed.Store(true)
	_ = w.Close()
}
