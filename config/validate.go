package config

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/edgeplane/edgeplane/ingest"
	"github.com/edgeplane/edgeplane/operators"
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
	c.checkDiskBudget(&ps)
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
	c.checkHTTPToken(ps)
	if g.Pprof && !loopbackListen(g.HTTPListen) {
		ps.add("gateway.pprof", "needs gateway.http_listen on a loopback address (127.0.0.1, ::1 or localhost), not %q: profiles show memory contents", g.HTTPListen)
	}
	switch g.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		ps.add("gateway.log_level", "unknown level %q (want debug, info, warn or error)", g.LogLevel)
	}
	if g.ShutdownTimeout <= 0 {
		ps.add("gateway.shutdown_timeout", "must be positive")
	}
	if g.GCPercent < GCPercentMin || g.GCPercent > GCPercentMax {
		ps.add("gateway.gc_percent", "%d, want %d to %d (the garbage collector's GOGC; default %d)", g.GCPercent, GCPercentMin, GCPercentMax, DefaultGCPercent)
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
	c.validateListenerSecurity(ps)
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
	if k.StallAfter < Duration(time.Second) {
		ps.add("kafka.stall_after", "must be at least 1s")
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

// validateSource checks what of a source is the configuration's own:
// its name and type, the embedded listener it may need, files and
// secrets, and what spans pipelines. Its transport's rules are the
// ingest options' Validate, its decoder's decode.Options.Validate (both
// called by Compile).
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
		if m.Broker == "embedded" && c.NATS.MQTTListen == "" {
			ps.add(at+".mqtt.broker", "broker is embedded but nats.mqtt_listen is not set")
		}
		if m.Password != "" || m.PasswordFile != "" {
			checkSecret(ps, at+".mqtt", m.Password, m.PasswordFile)
		}
		checkTLS(ps, at+".mqtt.tls", &m.TLS)
		if m.HoldAcks {
			for _, p := range c.Pipelines {
				if !slices.Contains(p.From, s.Name) {
					continue
				}
				if p.Window.Type == record.Session {
					ps.add(at+".mqtt.hold_acks", "pipeline %s uses session windows, whose end is not known when a reading arrives; held acks need tumbling or hopping windows", p.Name)
				}
				if p.Window.Watermark == operators.SeriesScope && p.Window.Time == operators.EventTime {
					ps.add(at+".mqtt.hold_acks", "pipeline %s has window.watermark: series; held acks release the broker's in-order acks, and drop redeliveries after a restart, by one stored watermark per pipeline — per-series time would need every series' stored watermark written to disk at each ack; set window.watermark: pipeline on pipelines fed by a hold_acks source", p.Name)
				}
			}
		}
		c.noExplicitZero(ps, at+".mqtt", zeroOpt{"keep_alive", m.KeepAlive == 0}, zeroOpt{"ping_timeout", m.PingTimeout == 0},
			zeroOpt{"stale_timeout", m.StaleTimeout == 0}, zeroOpt{"connections", m.Connections == 0}, zeroOpt{"max_unacked", m.MaxUnacked == 0})
	case SourceEmbedded:
		if c.NATS.MQTTListen == "" {
			ps.add(at+".type", "an embedded source needs nats.mqtt_listen")
		}
		e := &s.Embedded
		c.noExplicitZero(ps, at+".embedded", zeroOpt{"subscribers", e.Subscribers == 0},
			zeroOpt{"pending_msgs", e.PendingMsgs == 0}, zeroOpt{"pending_bytes", e.PendingBytes == 0})
	case SourceWebSocket:
		w := &s.WebSocket
		if w.Token != "" && w.TokenFile != "" {
			ps.add(at+".websocket.token_file", "set token or token_file, not both")
		}
		if w.TokenFile != "" {
			if _, err := os.Stat(w.TokenFile); err != nil {
				ps.add(at+".websocket.token_file", "cannot read %s: %v", w.TokenFile, err)
			}
		}
		c.noExplicitZero(ps, at+".websocket", zeroOpt{"max_frame", w.MaxFrame == 0}, zeroOpt{"max_conns", w.MaxConns == 0},
			zeroOpt{"idle_timeout", w.IdleTimeout == 0})
	default:
		ps.add(at+".type", "unknown source type %q (want mqtt, embedded or websocket)", s.Type)
	}
}

// noExplicitZero refuses a zero written for an option whose stage reads
// zero as "the default": left out, the option takes its default; written
// as 0 it would silently become the default too.
func (c *Config) noExplicitZero(ps *problems, at string, opts ...zeroOpt) {
	for _, o := range opts {
		if o.zero && c.Has(at+"."+o.name) {
			ps.add(at+"."+o.name, "0 is not a valid %s (leave the option out for its default)", o.name)
		}
	}
}

type zeroOpt struct {
	name string
	zero bool
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

// checkHostPort reports hp at path unless it is host:port (the one check,
// ingest.CheckHostPort, that the WebSocket source's listen uses too).
func checkHostPort(ps *problems, path, hp string) {
	if msg := ingest.CheckHostPort(hp); msg != "" {
		ps.add(path, "%s", msg)
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
