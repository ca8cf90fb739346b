package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/sink"
)

// pathProblem is a problem at a YAML path, located by the loader.
type pathProblem struct{ Path, Msg string }

type problems []pathProblem

func (ps *problems) add(path, format string, args ...any) {
	*ps = append(*ps, pathProblem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// validate checks a defaulted config as a whole and returns every problem.
func (c *Config) validate() problems {
	var ps problems
	c.validateGateway(&ps)
	c.validateNATS(&ps)
	c.validateKafka(&ps)
	names := map[string]bool{}
	for i := range c.Sources {
		c.validateSource(&ps, i, names)
	}
	if len(c.Sources) == 0 {
		ps.add("sources", "at least one source is required")
	}
	pnames := map[string]bool{}
	for i := range c.Pipelines {
		c.validatePipeline(&ps, i, pnames)
	}
	if len(c.Pipelines) == 0 {
		ps.add("pipelines", "at least one pipeline is required")
	}
	for i := range c.Pipelines {
		c.checkInert(&ps, i)
	}
	c.checkListeners(&ps)
	c.checkDataDir(&ps)
	c.checkPlaceholders(&ps)
	return ps
}

func (c *Config) validateGateway(ps *problems) {
	g := &c.Gateway
	if !validName(g.ID) {
		ps.add("gateway.id", "%q is not a valid id (letters, digits, '-', '_', '.'; at most 64)", g.ID)
	}
	if g.HTTPListen != "off" {
		checkHostPort(ps, "gateway.http_listen", g.HTTPListen)
	}
	switch g.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		ps.add("gateway.log_level", "unknown level %q (want debug, info, warn or error)", g.LogLevel)
	}
	if g.ShutdownTimeout <= 0 {
		ps.add("gateway.shutdown_timeout", "must be positive")
	}
	if msg := sink.CheckTopic(g.TelemetryTopic); msg != "" {
		ps.add("gateway.telemetry_topic", "%s", msg)
	}
	if g.TelemetryInterval > 0 && g.TelemetryInterval < Duration(time.Second) {
		ps.add("gateway.telemetry_interval", "must be at least 1s (or off)")
	}
}

func (c *Config) validateNATS(ps *problems) {
	n := &c.NATS
	if n.Listen != "" {
		checkHostPort(ps, "nats.listen", n.Listen)
	}
	if n.MQTTListen != "" {
		checkHostPort(ps, "nats.mqtt_listen", n.MQTTListen)
	}
	b := &n.Buffer
	if b.MaxBytes <= 0 {
		ps.add("nats.buffer.max_bytes", "must be positive (at least 1MiB)")
	}
	if b.MaxAge < 0 {
		ps.add("nats.buffer.max_age", "must not be negative (0: no age limit)")
	}
	switch b.Sync {
	case "default", "always":
	default:
		ps.add("nats.buffer.sync", "unknown sync policy %q (want default or always)", b.Sync)
	}
	if b.DuplicateWindow <= 0 {
		ps.add("nats.buffer.duplicate_window", "must be positive (at least 1s)")
	}
}

func (c *Config) validateKafka(ps *problems) {
	k := &c.Kafka
	if len(k.Brokers) == 0 {
		ps.add("kafka.brokers", "at least one broker address is required")
	}
	for i, b := range k.Brokers {
		checkHostPort(ps, fmt.Sprintf("kafka.brokers[%d]", i), b)
	}
	switch k.Compression {
	case "zstd", "snappy", "lz4", "gzip", "none":
	default:
		ps.add("kafka.compression", "unknown codec %q (want zstd, snappy, lz4, gzip or none)", k.Compression)
	}
	if k.DeliveryTimeout < Duration(time.Second) {
		ps.add("kafka.delivery_timeout", "must be at least 1s")
	}
	checkTLS(ps, "kafka.tls", &k.TLS)
	s := &k.SASL
	switch s.Mechanism {
	case "":
	case "plain", "scram-sha-256", "scram-sha-512":
		if s.Username == "" {
			ps.add("kafka.sasl.username", "required with mechanism %s", s.Mechanism)
		}
		checkSecret(ps, "kafka.sasl", s.Password, s.PasswordFile)
	default:
		ps.add("kafka.sasl.mechanism", "unknown mechanism %q (want plain, scram-sha-256 or scram-sha-512)", s.Mechanism)
	}
}

func (c *Config) validateSource(ps *problems, i int, names map[string]bool) {
	s := &c.Sources[i]
	at := fmt.Sprintf("sources[%d]", i)
	if !validName(s.Name) {
		ps.add(at+".name", "%q is not a valid name (letters, digits, '-', '_', '.'; at most 64)", s.Name)
	} else if names[s.Name] {
		ps.add(at+".name", "duplicate source name %q", s.Name)
	}
	names[s.Name] = true
	switch s.Type {
	case SourceMQTT:
		m := &s.MQTT
		if m.Broker == "embedded" {
			if c.NATS.MQTTListen == "" {
				ps.add(at+".mqtt.broker", "broker is embedded but nats.mqtt_listen is not set")
			}
		} else if u, err := url.Parse(m.Broker); err != nil || u.Host == "" {
			ps.add(at+".mqtt.broker", "%q is not a broker URL (want tcp://host:1883, ssl://host:8883, ws://host/path or embedded)", m.Broker)
		} else {
			switch u.Scheme {
			case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
			default:
				ps.add(at+".mqtt.broker", "unsupported scheme %q", u.Scheme)
			}
		}
		if len(m.Topics) == 0 {
			ps.add(at+".mqtt.topics", "at least one topic filter is required")
		}
		for j, t := range m.Topics {
			if err := checkFilter(t); err != nil {
				ps.add(fmt.Sprintf("%s.mqtt.topics[%d]", at, j), "%v", err)
			}
		}
		if m.QoS != 0 && m.QoS != 1 {
			ps.add(at+".mqtt.qos", "qos must be 0 or 1, not %d", m.QoS)
		}
		if len(m.ClientID) > 128 {
			ps.add(at+".mqtt.client_id", "longer than 128 bytes")
		}
		if m.KeepAlive < Duration(time.Second) {
			ps.add(at+".mqtt.keep_alive", "must be at least 1s")
		}
		if m.Password != "" || m.PasswordFile != "" {
			checkSecret(ps, at+".mqtt", m.Password, m.PasswordFile)
		}
		checkTLS(ps, at+".mqtt.tls", &m.TLS)
		if m.Connections < 1 || m.Connections > 64 {
			ps.add(at+".mqtt.connections", "must be between 1 and 64")
		}
		if m.Connections > 1 && !m.SplitTopics {
			for j, t := range m.Topics {
				if !strings.HasPrefix(t, "$share/") {
					ps.add(fmt.Sprintf("%s.mqtt.topics[%d]", at, j), "with %d connections every filter must be $share/group/… (or set split_topics)", m.Connections)
				}
			}
		}
		if m.SplitTopics && len(m.Topics) < m.Connections {
			ps.add(at+".mqtt.split_topics", "%d filters cannot be split over %d connections", len(m.Topics), m.Connections)
		}
		if m.HoldAcks {
			if m.QoS != 1 {
				ps.add(at+".mqtt.hold_acks", "needs qos 1")
			}
			if m.CleanSession {
				ps.add(at+".mqtt.hold_acks", "needs clean_session false (a persistent session)")
			}
			if m.Connections != 1 {
				ps.add(at+".mqtt.hold_acks", "needs connections: 1 (acks follow one arrival order)")
			}
			for _, p := range c.Pipelines {
				if contains(p.From, s.Name) && p.Window.Type == record.Session {
					ps.add(at+".mqtt.hold_acks", "pipeline %s uses session windows, whose end is not known when a reading arrives; held acks need tumbling or hopping windows", p.Name)
				}
			}
		}
		if m.MaxUnacked < 1 {
			ps.add(at+".mqtt.max_unacked", "must be positive")
		}
		if m.StaleTimeout <= m.KeepAlive+m.PingTimeout {
			ps.add(at+".mqtt.stale_timeout", "must exceed keep_alive + ping_timeout (%s)", (m.KeepAlive + m.PingTimeout).D())
		}
	case SourceEmbedded:
		e := &s.Embedded
		if c.NATS.MQTTListen == "" {
			ps.add(at+".type", "an embedded source needs nats.mqtt_listen")
		}
		if len(e.Topics) == 0 {
			ps.add(at+".embedded.topics", "at least one topic filter is required")
		}
		for j, t := range e.Topics {
			if err := checkFilter(t); err != nil || t == "#" || strings.HasPrefix(t, "$share/") {
				if err == nil {
					err = fmt.Errorf("filter %q is not supported by the embedded listener (no bare #, no $share)", t)
				}
				ps.add(fmt.Sprintf("%s.embedded.topics[%d]", at, j), "%v", err)
			}
		}
		if e.Subscribers < 1 || e.Subscribers > 64 {
			ps.add(at+".embedded.subscribers", "must be between 1 and 64")
		}
		if e.PendingMsgs < 1 || e.PendingBytes < 1<<10 {
			ps.add(at+".embedded", "pending_msgs and pending_bytes must be positive (pending_bytes at least 1KiB)")
		}
	case SourceWebSocket:
		w := &s.WebSocket
		if w.Listen == "" {
			ps.add(at+".websocket.listen", "a listen address is required")
		} else {
			checkHostPort(ps, at+".websocket.listen", w.Listen)
		}
		if !strings.HasPrefix(w.Path, "/") {
			ps.add(at+".websocket.path", "must start with /")
		}
		if w.Topic == "" && !strings.HasSuffix(w.Path, "/") {
			ps.add(at+".websocket.path", "must end with / (the rest of the path is the topic) unless topic is set")
		}
		if w.Token != "" && w.TokenFile != "" {
			ps.add(at+".websocket.token_file", "set token or token_file, not both")
		}
		if w.TokenFile != "" {
			if _, err := os.Stat(w.TokenFile); err != nil {
				ps.add(at+".websocket.token_file", "cannot read %s: %v", w.TokenFile, err)
			}
		}
		if (w.TLSCertFile == "") != (w.TLSKeyFile == "") {
			ps.add(at+".websocket", "tls_cert_file and tls_key_file go together")
		}
		if w.MaxFrame < 64 || w.MaxFrame > 16<<20 {
			ps.add(at+".websocket.max_frame", "must be between 64 and 16777216")
		}
		if w.MaxConns < 1 {
			ps.add(at+".websocket.max_conns", "must be positive")
		}
		if w.RateLimit < 0 || w.Burst < 0 {
			ps.add(at+".websocket.rate_limit", "must not be negative")
		}
	default:
		ps.add(at+".type", "unknown source type %q (want mqtt, embedded or websocket)", s.Type)
	}
}

// validatePipeline checks what is not a stage's own rule: the name and
// the from list's length. Everything else is checked by Compile, by the
// stages' own Validate.
func (c *Config) validatePipeline(ps *problems, i int, names map[string]bool) {
	p := &c.Pipelines[i]
	at := fmt.Sprintf("pipelines[%d]", i)
	if !validName(p.Name) || strings.Contains(p.Name, ".") {
		ps.add(at+".name", "%q is not a valid name (letters, digits, '-', '_'; at most 64)", p.Name)
	} else if names[p.Name] {
		ps.add(at+".name", "duplicate pipeline name %q", p.Name)
	}
	names[p.Name] = true
	if len(p.From) == 0 {
		ps.add(at+".from", "at least one source is required")
	}
	if len(p.From) > 255 {
		ps.add(at+".from", "at most 255 sources")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func checkHostPort(ps *problems, path, hp string) {
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		ps.add(path, "%q is not host:port", hp)
		return
	}
	_ = h
	if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 65535 {
		ps.add(path, "bad port %q", p)
	}
}

func checkTLS(ps *problems, at string, t *TLS) {
	for _, f := range []struct{ key, path string }{{"ca_file", t.CAFile}, {"cert_file", t.CertFile}, {"key_file", t.KeyFile}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			ps.add(at+"."+f.key, "cannot read %s: %v", f.path, err)
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		ps.add(at, "cert_file and key_file go together")
	}
}

func checkSecret(ps *problems, at, value, file string) {
	switch {
	case value != "" && file != "":
		ps.add(at+".password_file", "set password or password_file, not both")
	case value == "" && file == "":
		ps.add(at+".password", "a password (or password_file) is required")
	case file != "":
		if _, err := os.Stat(file); err != nil {
			ps.add(at+".password_file", "cannot read %s: %v", file, err)
		}
	}
}

// checkFilter checks an MQTT topic filter, including $share/group/filter.
func checkFilter(f string) error {
	if f == "" {
		return fmt.Errorf("empty topic filter")
	}
	if strings.HasPrefix(f, "$share/") {
		parts := strings.SplitN(f, "/", 3)
		if len(parts) < 3 || parts[1] == "" || parts[2] == "" {
			return fmt.Errorf("shared subscription %q must be $share/group/filter", f)
		}
		f = parts[2]
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return fmt.Errorf("filter %q: # must be a whole last level", f)
		}
		if strings.Contains(l, "+") && l != "+" {
			return fmt.Errorf("filter %q: + must be a whole level", f)
		}
	}
	return nil
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if r == '-' || r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			continue
		}
		return false
	}
	return true
}
