package ingest

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/edgeplane/edgeplane/decode"
	"github.com/edgeplane/edgeplane/record"
)

// The sources' rules. Each Validate reports every problem of its options
// as record.OptionErrors whose Option is the option's configuration name
// (qos, topics[1], websocket path …), and each constructor calls it: the
// configuration's validation and the running gateway check the same
// rules in the same place. A zero option that selects a default is valid.

// Bounds of the sources' options.
const (
	MaxMQTTConnections = 64
	MaxClientIDLen     = 128
	MinKeepAlive       = time.Second
	MaxSubscribers     = 64
	MinWSMaxFrame      = 64
	MaxWSMaxFrame      = 16 << 20
	MinPendingBytes    = 1 << 10
)

// mqttSchemes are the broker URL schemes paho speaks.
var mqttSchemes = []string{"tcp", "mqtt", "ssl", "tls", "mqtts", "tcps", "ws", "wss"}

// Validate reports every problem of o.
func (o *MQTTOptions) Validate() error {
	var ps record.OptionErrors
	add := func(opt, format string, args ...any) { ps.Add(opt, fmt.Sprintf(format, args...)) }
	if o.Broker == "" {
		add("broker", "a broker URL is required")
	} else if u, err := url.Parse(o.Broker); err != nil || u.Host == "" {
		add("broker", "%q is not a broker URL (want tcp://host:1883, ssl://host:8883 or ws://host/path)", o.Broker)
	} else if !slices.Contains(mqttSchemes, u.Scheme) {
		add("broker", "unsupported scheme %q (want one of %s)", u.Scheme, strings.Join(mqttSchemes, ", "))
	}
	if len(o.Topics) == 0 {
		add("topics", "at least one topic filter is required")
	}
	for i, t := range o.Topics {
		if err := decode.CheckFilter(t); err != nil {
			add(fmt.Sprintf("topics[%d]", i), "%v", err)
		}
	}
	if o.QoS > 1 {
		add("qos", "qos must be 0 or 1, not %d", o.QoS)
	}
	if len(o.ClientID) > MaxClientIDLen {
		add("client_id", "longer than %d bytes", MaxClientIDLen)
	}
	if o.ClientID == "" && !o.CleanSession {
		add("client_id", "a persistent session (clean_session false) needs a client id")
	}
	if o.KeepAlive < 0 || o.KeepAlive > 0 && o.KeepAlive < MinKeepAlive {
		add("keep_alive", "%s, must be at least %s", o.KeepAlive, MinKeepAlive)
	}
	if o.PingTimeout < 0 {
		add("ping_timeout", "must not be negative")
	}
	conns := max(o.Connections, 1)
	if o.Connections < 0 || o.Connections > MaxMQTTConnections {
		add("connections", "must be between 1 and %d, not %d", MaxMQTTConnections, o.Connections)
	}
	if conns > 1 && !o.SplitTopics {
		for i, t := range o.Topics {
			if !strings.HasPrefix(t, "$share/") {
				add(fmt.Sprintf("topics[%d]", i), "with %d connections every filter must be $share/group/… (or set split_topics): each connection would receive every message", conns)
			}
		}
	}
	if o.SplitTopics && len(o.Topics) < conns {
		add("split_topics", "%d filters cannot be split over %d connections", len(o.Topics), conns)
	}
	if o.HoldAcks {
		if o.QoS != 1 {
			add("hold_acks", "needs qos 1")
		}
		if o.CleanSession {
			add("hold_acks", "needs clean_session false: a clean session drops unacknowledged messages on reconnect")
		}
		if conns != 1 {
			add("hold_acks", "needs connections: 1 (acks follow one arrival order)")
		}
	}
	if o.MaxUnacked < 0 {
		add("max_unacked", "must be positive")
	}
	keep, ping := o.KeepAlive, o.PingTimeout
	if keep <= 0 {
		keep = DefaultMQTTKeepAlive
	}
	if ping <= 0 {
		ping = min(DefaultMQTTPingTimeout, keep)
	}
	if o.StaleTimeout < 0 || o.StaleTimeout > 0 && o.StaleTimeout <= keep+ping {
		add("stale_timeout", "%s, must exceed keep_alive + ping_timeout (%s)", o.StaleTimeout, keep+ping)
	}
	return ps.Err()
}

// Validate reports every problem of o.
func (o *WSOptions) Validate() error {
	var ps record.OptionErrors
	add := func(opt, format string, args ...any) { ps.Add(opt, fmt.Sprintf(format, args...)) }
	if o.Listen == "" {
		add("listen", "a listen address is required")
	} else if msg := CheckHostPort(o.Listen); msg != "" {
		add("listen", "%s", msg)
	}
	path := o.Path
	if path == "" {
		path = "/"
	}
	if !strings.HasPrefix(path, "/") {
		add("path", "%q must start with /", path)
	} else if o.Topic == "" && !strings.HasSuffix(path, "/") {
		add("path", "%q serves one path, so it needs a fixed topic (or end the path with / to take the topic from the path below it)", path)
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		add("tls_cert_file", "tls_cert_file and tls_key_file go together")
	}
	if o.MaxFrame != 0 && (o.MaxFrame < MinWSMaxFrame || o.MaxFrame > MaxWSMaxFrame) {
		add("max_frame", "must be between %d and %d, not %d", MinWSMaxFrame, MaxWSMaxFrame, o.MaxFrame)
	}
	if o.MaxConns < 0 {
		add("max_conns", "must be positive")
	}
	if o.RateLimit < 0 {
		add("rate_limit", "must not be negative")
	}
	if o.Burst < 0 {
		add("burst", "must not be negative")
	}
	if o.IdleTimeout < 0 {
		add("idle_timeout", "must not be negative")
	}
	return ps.Err()
}

// Validate reports every problem of o (Conn is checked by NewNATSSource:
// it exists only at run time).
func (o *NATSOptions) Validate() error {
	var ps record.OptionErrors
	add := func(opt, format string, args ...any) { ps.Add(opt, fmt.Sprintf(format, args...)) }
	if len(o.Topics) == 0 {
		add("topics", "at least one topic filter is required")
	}
	for i, t := range o.Topics {
		if _, _, err := MQTTFilterToSubjects(t); err != nil {
			add(fmt.Sprintf("topics[%d]", i), "%v", err)
		}
	}
	if o.Subscribers < 0 || o.Subscribers > MaxSubscribers {
		add("subscribers", "must be between 1 and %d, not %d", MaxSubscribers, o.Subscribers)
	}
	if o.PendingMsgs < 0 {
		add("pending_msgs", "must be positive")
	}
	if o.PendingBytes < 0 || o.PendingBytes > 0 && o.PendingBytes < MinPendingBytes {
		add("pending_bytes", "must be at least %d bytes", MinPendingBytes)
	}
	return ps.Err()
}

// CheckHostPort returns why hp is not a host:port address ("" when it is).
func CheckHostPort(hp string) string {
	_, p, err := net.SplitHostPort(hp)
	if err != nil {
		return fmt.Sprintf("%q is not host:port", hp)
	}
	if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("bad port %q", p)
	}
	return ""
}
