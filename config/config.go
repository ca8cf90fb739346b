package config

import (
	"strings"

	"github.com/edgeplane/edgeplane/decode"
	"github.com/edgeplane/edgeplane/internal/tlsconf"
	"github.com/edgeplane/edgeplane/operators"
	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/ring"
	"github.com/edgeplane/edgeplane/sink"
)

// Config is one gateway's configuration file.
type Config struct {
	Gateway   Gateway    `yaml:"gateway"`
	NATS      NATS       `yaml:"nats"`
	Kafka     Kafka      `yaml:"kafka"`
	Sources   []Source   `yaml:"sources"`
	Pipelines []Pipeline `yaml:"pipelines"`

	// File is the file or directory the config was loaded from (the name
	// given to LoadBytes).
	File string `yaml:"-"`
	// pos holds where each option present in the file stands, by YAML
	// path (pipelines[0].window.size): it tells an option left out, which
	// takes its default, from one set to its zero value, which is kept.
	pos map[string]Pos
	// bufferDerived says buffer.max_bytes was left out and derived from
	// the disk (see BufferMaxBytesDerived).
	bufferDerived bool
}

// Pos is where an option stands in a configuration file.
type Pos struct {
	File      string
	Line, Col int
}

// Has reports whether the option at path (pipelines[0].window.size) was
// written in the file. A Config built in Go has no positions: there an
// option is set when it is not zero.
func (c *Config) Has(path string) bool {
	_, ok := c.pos[path]
	return ok
}

// Where returns the position of the option at path, or of its nearest
// ancestor written in the file (the zero Pos when none is).
func (c *Config) Where(path string) Pos {
	for q := path; ; {
		if p, ok := c.pos[q]; ok {
			return p
		}
		i := strings.LastIndexAny(q, ".[")
		if i < 0 {
			return Pos{File: c.File}
		}
		q = q[:i]
	}
}

// Gateway identifies the device and holds process-wide settings.
type Gateway struct {
	// ID names this gateway in every aggregate id and record header.
	// Default: the host name.
	ID string `yaml:"id"`
	// DataDir holds the JetStream store. Default "./data".
	DataDir string `yaml:"data_dir"`
	// HTTPListen serves /metrics, /healthz and /readyz. Default
	// "127.0.0.1:8080"; empty string "off" disables it.
	HTTPListen string `yaml:"http_listen"`
	// HTTPToken (or HTTPTokenFile) is the bearer token the read API
	// (/v1/…: pipelines, series, the live tap) requires; /metrics,
	// /healthz and /readyz stay open. Required when http_listen is not a
	// loopback address. Default "": no token (loopback only).
	HTTPToken     string `yaml:"http_token"`
	HTTPTokenFile string `yaml:"http_token_file"`
	// LogLevel is debug, info (default), warn or error.
	LogLevel string `yaml:"log_level"`
	// ShutdownTimeout bounds a graceful stop. Default 15s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// TelemetryTopic receives a status event (id, version, uptime, rates,
	// buffer) every TelemetryInterval, keyed by gateway id, so the central
	// side sees its fleet. Default "edgeplane.telemetry".
	TelemetryTopic string `yaml:"telemetry_topic"`
	// TelemetryInterval between status events. Default 60s; "off" or a
	// negative value disables them.
	TelemetryInterval Duration `yaml:"telemetry_interval"`
	// Pprof serves Go's profiles (net/http/pprof) under /debug/pprof/ on
	// HTTPListen, which must then be a loopback address. Default false.
	Pprof bool `yaml:"pprof"`
	// MemoryLimit is the Go runtime's soft memory limit
	// (runtime/debug.SetMemoryLimit), set at start unless the GOMEMLIMIT
	// environment variable is set, which then wins. Validation refuses a
	// config whose preallocated state (windows, sketches and rings of
	// every pipeline, MemoryEstimate) plus the fixed part
	// (FixedMemory: runtime, nats-server, franz-go) exceeds it.
	// Default 256MiB (DefaultMemoryLimit): a quarter of a 1 GB gateway,
	// which shares the device with the OS page cache JetStream's file
	// store relies on and with other services; the default pipelines need
	// well under half of it, leaving the rest for what cannot be sized in
	// advance (message buffers, the Kafka client's in-flight batches,
	// garbage between collections). The systemd unit's MemoryMax sits
	// above it (deploy/arm64).
	MemoryLimit ByteSize `yaml:"memory_limit"`
	// GCPercent is the Go garbage collector's target percentage
	// (runtime/debug.SetGCPercent, GOGC): the heap grows by this share of
	// the live heap before the next collection. Set at start unless the
	// GOGC environment variable is set, which then wins. Default 50
	// (DefaultGCPercent); 10 to 1000.
	GCPercent int `yaml:"gc_percent"`
}

// NATS configures the embedded nats-server.
type NATS struct {
	// Listen is the NATS client listener (host:port). Default "": no
	// listener, in-process connections only.
	Listen string `yaml:"listen"`
	// MQTTListen is the embedded MQTT listener (host:port) sensors and
	// sources with broker "embedded" connect to. Default "" (off).
	MQTTListen string `yaml:"mqtt_listen"`
	// MQTTAckWait is how long the embedded listener waits for a
	// subscriber's ack of a QoS 1 message before redelivering it. With
	// hold_acks through the embedded listener it must exceed the time a
	// reading is held (window size + out_of_orderness + lateness).
	// Default: the server's (30s).
	MQTTAckWait Duration `yaml:"mqtt_ack_wait"`
	// MaxStore bounds all JetStream file storage. Default: the server's.
	MaxStore ByteSize `yaml:"max_store"`
	Buffer   Buffer   `yaml:"buffer"`
	// Auth says who may log in on the listeners (listen and mqtt_listen).
	// Whatever it says, listener clients live in an account of their own
	// and never reach the gateway's streams or the JetStream API.
	Auth ListenerAuth `yaml:"auth"`
	// TLS serves both listeners over TLS only.
	TLS ListenerTLS `yaml:"tls"`
}

// ListenerAuth configures the listeners' users.
type ListenerAuth struct {
	// Users may log in on either listener. Once there are users, a client
	// without credentials is refused unless allow_anonymous is true.
	Users []ListenerUser `yaml:"users"`
	// AllowAnonymous lets clients without credentials in (with the
	// listener clients' restrictions). Without users, anonymous clients
	// are let in anyway; a listener on an address other hosts can reach
	// then needs allow_anonymous: true written explicitly. Default false.
	AllowAnonymous bool `yaml:"allow_anonymous"`
}

// ListenerUser is one user of the listeners (MQTT username, NATS user).
type ListenerUser struct {
	// User is the user name. Required, unique.
	User string `yaml:"user"`
	// Password, PasswordFile (a file holding it) or PasswordHash (its
	// bcrypt hash, "$2a$…", as made by `htpasswd -nbB` or `nats server
	// passwd`): exactly one. Use ${VAR} to take a value from the
	// environment.
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	PasswordHash string `yaml:"password_hash"`
	// Publish and Subscribe are the NATS subjects the user may publish
	// and subscribe to (an MQTT topic a/b/c is the subject a.b.c, + is *,
	// # is >; subscribing a.b.> also allows a.b, as MQTT's a/b/# matches
	// a/b). Default: any subject, less the JetStream API, $SYS and
	// edgeplane.>, which no listener client ever gets.
	Publish   []string `yaml:"publish"`
	Subscribe []string `yaml:"subscribe"`
}

// ListenerTLS configures TLS on the listeners.
type ListenerTLS struct {
	// CertFile and KeyFile are the listeners' PEM certificate and key;
	// setting them turns TLS on (both listeners then refuse plain
	// connections).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// CAFile is a PEM file of the CAs client certificates are checked
	// against (needed by verify_clients).
	CAFile string `yaml:"ca_file"`
	// VerifyClients requires every client to present a certificate signed
	// by a CA of ca_file. Default false.
	VerifyClients bool `yaml:"verify_clients"`
}

// Enabled reports whether the listeners serve TLS.
func (t *ListenerTLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Files returns the files tlsconf.Server loads.
func (t *ListenerTLS) Files() tlsconf.ServerFiles {
	return tlsconf.ServerFiles{CertFile: t.CertFile, KeyFile: t.KeyFile, CAFile: t.CAFile, VerifyClients: t.VerifyClients}
}

// Buffer configures the store-and-forward stream.
type Buffer struct {
	// MaxBytes bounds the backlog on disk. Default 1GiB, or less where
	// JetStream's storage limit (nats.max_store, else 75% of data_dir's
	// free space) is small: 80% of what the limit leaves after the
	// dead-letter stream (BufferMaxBytesFor). Validate reports a value
	// that does not fit.
	MaxBytes ByteSize `yaml:"max_bytes"`
	// MaxAge drops frames older than this. Default 168h (7 days).
	MaxAge Duration `yaml:"max_age"`
	// OnFull is drop_oldest (default: keep the newest data) or push_back
	// (stall the operators; the rings' policy then applies).
	OnFull sink.OnFull `yaml:"on_full"`
	// Sync is "default" (the server's: fsync every 2 minutes and on
	// shutdown) or "always" (fsync every write; slower, survives a power
	// cut).
	Sync string `yaml:"sync"`
	// DuplicateWindow is how long message ids are remembered. Default 2m.
	DuplicateWindow Duration `yaml:"duplicate_window"`
}

// Kafka configures the central cluster.
type Kafka struct {
	// Brokers are seed addresses (host:port). Required.
	Brokers []string `yaml:"brokers"`
	// ClientID default "edgeplane-<gateway id>".
	ClientID string `yaml:"client_id"`
	// Compression is zstd (default), snappy, lz4, gzip or none.
	Compression string `yaml:"compression"`
	// AutoCreateTopics lets the broker create missing topics. Default false.
	AutoCreateTopics bool `yaml:"auto_create_topics"`
	// DeliveryTimeout bounds one delivery attempt. Default 30s.
	DeliveryTimeout Duration `yaml:"delivery_timeout"`
	// StallAfter is how long Kafka may acknowledge nothing while a
	// backlog waits before /readyz reports the forwarding stalled, with
	// the last error. Default 60s.
	StallAfter Duration `yaml:"stall_after"`
	TLS        TLS      `yaml:"tls"`
	SASL       SASL     `yaml:"sasl"`
}

// TLS configures a TLS client.
type TLS struct {
	// Enabled turns TLS on.
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM file of the CAs to trust. Default: the system pool.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a PEM client certificate and its key
	// (mutual TLS).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name checked against the server's
	// certificate.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify skips checking the server's certificate (testing
	// only).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// SASL configures Kafka authentication.
type SASL struct {
	// Mechanism is plain, scram-sha-256 or scram-sha-512; empty: none.
	Mechanism string `yaml:"mechanism"`
	// Username is required with a mechanism.
	Username string `yaml:"username"`
	// Password, or PasswordFile to read it from a file. Use ${VAR} to
	// take it from the environment.
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

// Source is one input: an MQTT subscription (through paho to any broker),
// the embedded MQTT listener's messages taken in-process, or a WebSocket
// endpoint.
type Source struct {
	// Name identifies the source in pipelines' from. Required, unique.
	Name string `yaml:"name"`
	// Type is mqtt (default), embedded or websocket.
	Type      SourceType      `yaml:"type"`
	MQTT      MQTTSource      `yaml:"mqtt,omitempty"`
	Embedded  EmbeddedSource  `yaml:"embedded,omitempty"`
	WebSocket WebSocketSource `yaml:"websocket,omitempty"`
	// DeadLetter sends rejected payloads, with their reason, to the
	// JetStream subject edgeplane.deadletter.<source> (a bounded stream).
	DeadLetter bool   `yaml:"dead_letter"`
	Decode     Decode `yaml:"decode"`
}

// Decode configures a source's payload decoder; it compiles to
// decode.Options (see that type for each option's meaning). JSON paths
// are dotted: "a.b.0.c" is element 0 of array b.
type Decode struct {
	// Format is json (default), senml, ttn or zigbee2mqtt.
	Format decode.Format `yaml:"format"`
	// TopicPattern, for example "city/{district}/{type}/{id}", must match
	// every message's topic and names the variables key and tag filters use.
	TopicPattern string `yaml:"topic_pattern"`
	// Key is a template over the topic variables, e.g. "{district}/{id}".
	// Default: per format (json: the topic; senml: bn; ttn:
	// end_device_ids.device_id; zigbee2mqtt: the friendly name).
	Key string `yaml:"key"`
	// KeyPath is the JSON path of the key; it wins over key.
	KeyPath string `yaml:"key_path"`
	// TimePath is the JSON path of the event time (default: the arrival
	// time; ttn: received_at, else uplink_message.received_at; the radio
	// gateway's time is uplink_message.rx_metadata.0.time).
	TimePath string `yaml:"time_path"`
	// TimeUnit is auto (default), s, ms, us, ns or rfc3339; needs time_path.
	TimeUnit decode.TimeUnit `yaml:"time_unit"`
	// Fields are the value fields, at least one.
	Fields []FieldSpec `yaml:"fields"`
	// MaxPayload is the largest accepted payload in bytes. Default 65536.
	MaxPayload int `yaml:"max_payload"`
	// MaxSkew rejects readings further than this behind their arrival
	// time (time_out_of_range), and ahead of it when it is smaller than
	// max_future (time_in_future). Default 24h; 0 disables the check.
	MaxSkew Duration `yaml:"max_time_skew"`
	// MaxFuture rejects readings whose event time is ahead of their
	// arrival time by more than this (time_in_future): they move no
	// watermark. Default 5m; 0 disables it (max_time_skew, when set, then
	// bounds the future).
	MaxFuture Duration `yaml:"max_future"`
}

// FieldSpec names one value field and its path (default: the name).
type FieldSpec struct {
	Name string `yaml:"name"`
	Path string `yaml:"path"`
}

// FieldNames returns the field names in order.
func (d *Decode) FieldNames() []string {
	names := make([]string, len(d.Fields))
	for i, f := range d.Fields {
		names[i] = f.Name
	}
	return names
}

// EmbeddedSource takes the messages sensors publish to the embedded MQTT
// listener (nats.mqtt_listen) in-process, without a second MQTT hop.
type EmbeddedSource struct {
	// Topics are MQTT topic filters (+, #). Required.
	Topics []string `yaml:"topics"`
	// Subscribers is the number of parallel subscriptions (a queue group
	// when more than one). Default 1.
	Subscribers int `yaml:"subscribers"`
	// PendingMsgs and PendingBytes bound what may wait for the decoder;
	// beyond them messages are dropped and counted. Defaults 65536, 64MiB.
	PendingMsgs  int      `yaml:"pending_msgs"`
	PendingBytes ByteSize `yaml:"pending_bytes"`
}

// WebSocketSource is a WebSocket endpoint sensors push to: text frames of
// one JSON object, an array of objects, or NDJSON.
type WebSocketSource struct {
	// Listen is host:port. Required.
	Listen string `yaml:"listen"`
	// Path the endpoint serves. Default "/". Ending in "/", the rest of the
	// request path is the message topic (e.g. /ingest/city/d7/air/s-1).
	Path string `yaml:"path"`
	// Topic, when set, is the topic of every message instead.
	Topic string `yaml:"topic"`
	// Token (or TokenFile) is the secret every client must present: an
	// "Authorization: Bearer" header, a "token" query parameter, or a
	// Sec-WebSocket-Protocol entry "token.TOKEN" (browsers, Node), offered
	// with "edgeplane", which the server selects. Empty: no auth.
	Token     string `yaml:"token"`
	TokenFile string `yaml:"token_file"`
	// TLSCertFile and TLSKeyFile enable TLS.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// MaxFrame bounds a message in bytes. Default 65536.
	MaxFrame int `yaml:"max_frame"`
	// MaxConns bounds concurrent connections. Default 1024.
	MaxConns int `yaml:"max_conns"`
	// RateLimit is messages per second per connection (0: unlimited) with
	// Burst; a client over it is refused and then closed.
	RateLimit float64 `yaml:"rate_limit"`
	Burst     int     `yaml:"burst"`
	// IdleTimeout closes a connection without frames. Default 5m.
	IdleTimeout Duration `yaml:"idle_timeout"`
}

// MQTTSource configures an MQTT subscriber.
type MQTTSource struct {
	// Broker is a URL (tcp://host:1883, ssl://host:8883, ws://…) or
	// "embedded" for the gateway's own MQTT listener (nats.mqtt_listen).
	// Default "embedded".
	Broker string `yaml:"broker"`
	// Topics are MQTT topic filters (+ and # wildcards). Required.
	Topics []string `yaml:"topics"`
	// QoS is 0 or 1. Default 1.
	QoS int `yaml:"qos"`
	// ClientID default "edgeplane-<gateway>-<source>".
	ClientID string `yaml:"client_id"`
	// CleanSession false (default) keeps a persistent session so the
	// broker queues QoS 1 messages while edgeplane is down.
	CleanSession bool `yaml:"clean_session"`
	// Username and Password (or PasswordFile) authenticate to the broker.
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	// KeepAlive is the MQTT keep-alive interval. Default 30s.
	KeepAlive Duration `yaml:"keep_alive"`
	TLS       TLS      `yaml:"tls"`
	// Connections is the number of parallel connections (each its own
	// receive goroutine). With more than one, filters must be
	// $share/group/… or SplitTopics must be set. Default 1.
	Connections int `yaml:"connections"`
	// SplitTopics spreads the filters over the connections instead.
	SplitTopics bool `yaml:"split_topics"`
	// HoldAcks acks a QoS 1 message only once its readings are inside
	// aggregates stored in JetStream (needs qos 1, clean_session false,
	// tumbling or hopping pipelines). A crash then loses no reading: the
	// broker redelivers.
	HoldAcks bool `yaml:"hold_acks"`
	// MaxUnacked bounds held messages per connection. Default 1024.
	MaxUnacked int `yaml:"max_unacked"`
	// PingTimeout bounds the wait for a ping response. Default 10s.
	PingTimeout Duration `yaml:"ping_timeout"`
	// StaleTimeout reconnects a connection that received nothing for
	// this long. Default 1.5 × keep_alive + ping_timeout.
	StaleTimeout Duration `yaml:"stale_timeout"`
}

// Pipeline is one windowed aggregation from sources to a Kafka topic.
type Pipeline struct {
	// Name identifies the pipeline; the default topic is
	// edgeplane.<name>. Required, unique.
	Name string `yaml:"name"`
	// From names the sources feeding the pipeline. Required.
	From []string `yaml:"from"`
	// Fields restricts the pipeline to these value fields of its sources.
	// Default: every field of every source in From.
	Fields []string `yaml:"fields"`
	// Filter, Map, Deadband and Dedup run per reading before windowing,
	// in the order dedup, filter, map, deadband.
	Filter   []FilterRule   `yaml:"filter"`
	Map      []MapRule      `yaml:"map"`
	Deadband []DeadbandRule `yaml:"deadband"`
	// Dedup drops a reading whose (series, field, time) was just seen.
	Dedup  bool   `yaml:"dedup"`
	Window Window `yaml:"window"`
	// Aggregates are computed per window: count, sum, min, max, mean
	// (default: those five), first, last, variance, stddev, rate, median
	// and quantiles such as p95 or p99.9.
	Aggregates []string `yaml:"aggregates"`
	// MaxSeries bounds the distinct series keys. Default 10000.
	MaxSeries int    `yaml:"max_series"`
	Ring      Ring   `yaml:"ring"`
	To        Output `yaml:"to"`
}

// FilterRule keeps the readings that pass it. A rule tests either a field
// or a tag.
//
// On a field (Field: a field name or "*"): with Min and/or Max,
// min <= v <= max; with Equals, v == equals; with NotEquals, v !=
// not_equals.
//
// On a tag (Tag: a variable of the topic_pattern of every source in the
// pipeline's from, such as district in "city/{district}/{type}/{id}"): with
// In, the message's value is one of in; with NotIn, none of not_in; with
// Min and/or Max, the value read as a decimal number lies in the range (a
// value that is not a number fails). A message failing a tag rule drops
// all its readings, counted as filtered.
type FilterRule struct {
	Field     string   `yaml:"field,omitempty"`
	Tag       string   `yaml:"tag,omitempty"`
	Min       *float64 `yaml:"min,omitempty"`
	Max       *float64 `yaml:"max,omitempty"`
	Equals    *float64 `yaml:"equals,omitempty"`
	NotEquals *float64 `yaml:"not_equals,omitempty"`
	In        []string `yaml:"in,omitempty"`
	NotIn     []string `yaml:"not_in,omitempty"`
}

// MapRule rewrites readings of Field as v*scale + offset, or converts
// units from From to To (C, F, K, m/s, km/h, …).
type MapRule struct {
	Field  string   `yaml:"field"`
	Scale  *float64 `yaml:"scale,omitempty"`
	Offset float64  `yaml:"offset,omitempty"`
	From   string   `yaml:"from,omitempty"`
	To     string   `yaml:"to,omitempty"`
}

// DeadbandRule suppresses a reading of Field that differs from the last
// one passed by less than Threshold, unless MaxGap has passed since.
type DeadbandRule struct {
	Field     string   `yaml:"field"`
	Threshold float64  `yaml:"threshold"`
	MaxGap    Duration `yaml:"max_gap"`
}

// Window configures the window operator.
type Window struct {
	// Type is tumbling (default), hopping or session.
	Type record.WindowKind `yaml:"type"`
	// Size of tumbling and hopping windows. Default 1m.
	Size Duration `yaml:"size"`
	// Advance of hopping windows: a window starts every advance (0 <
	// advance <= size; state is kept in panes of gcd(size, advance), at
	// most 4096 per window).
	Advance Duration `yaml:"advance,omitempty"`
	// Gap of session windows.
	Gap Duration `yaml:"gap,omitempty"`
	// Offset shifts the epoch alignment of tumbling and hopping windows:
	// -slide < offset < slide, where slide is the size (tumbling) or the
	// advance (hopping).
	Offset Duration `yaml:"offset,omitempty"`
	// OutOfOrderness is the watermark's bound B (0 is a valid bound).
	// Default 5s.
	OutOfOrderness Duration `yaml:"out_of_orderness"`
	// AllowedLateness L: late events within it re-fire their window.
	AllowedLateness Duration `yaml:"allowed_lateness"`
	// Emit is update (default) or final.
	Emit operators.EmitMode `yaml:"emit"`
	// Time is event (default) or processing.
	Time operators.TimeMode `yaml:"time"`
	// Watermark is whose event time closes windows: series (default),
	// each series by its own clock (WINDOWS.md D), or pipeline, one
	// watermark for the pipeline (per-source maxima, the lowest over
	// sources that are not idle).
	Watermark operators.WatermarkScope `yaml:"watermark"`
	// IdleTimeout marks a silent source (pipeline scope) or series (series
	// scope) idle: its watermark then follows the wall clock. Default 30s.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxOpenWindows per series and field. Default 16.
	MaxOpenWindows int `yaml:"max_open_windows"`
}

// Ring configures the rings between ingest and the operators.
type Ring struct {
	// Capacity per shard, rounded up to a power of two. Default 8192.
	Capacity int `yaml:"capacity"`
	// Policy when a ring is full: block (default), drop_newest, drop_oldest.
	Policy ring.Policy `yaml:"policy"`
	// Shards is the number of operator goroutines. Default 1.
	Shards int `yaml:"shards"`
}

// Output says where aggregates go.
type Output struct {
	// Topic is the Kafka topic. Default "edgeplane.<pipeline>".
	Topic string `yaml:"topic"`
	// Format is json (default: one record per aggregate) or compact (many
	// aggregates per record in a columnar binary layout; edgeplane decode
	// turns it back into JSON lines).
	Format sink.RecordFormat `yaml:"format"`
	// Key is what keys the json format's records: series (default: the
	// series key, so one series' windows stay in order in one partition)
	// or id (the aggregate id, for compacted topics and upsert consumers;
	// a retracted session id is then a tombstone, a null value). compact
	// records are keyed by gateway and take only series.
	Key sink.RecordKey `yaml:"key"`
	// Compression of compact records: zstd (default), s2 or none.
	Compression string `yaml:"compression"`
	// LateTopic receives late events as JSON when set.
	LateTopic string `yaml:"late_topic"`
}

// Source returns the source named name, or nil.
func (c *Config) Source(name string) *Source {
	for i := range c.Sources {
		if c.Sources[i].Name == name {
			return &c.Sources[i]
		}
	}
	return nil
}

// Options compiles d into the decoder's typed options. A max_time_skew
// of 0 (the check disabled) is a negative decode.Options.MaxSkew, a
// max_future of 0 is decode.NoMaxFuture; a negative max_future is passed
// on for decode.Options.Validate to refuse.
func (d *Decode) Options() decode.Options {
	o := decode.Options{Format: d.Format, TopicPattern: d.TopicPattern, Key: d.Key, KeyPath: d.KeyPath,
		TimePath: d.TimePath, TimeUnit: d.TimeUnit, MaxPayload: d.MaxPayload, MaxSkew: d.MaxSkew.D(),
		MaxFuture: d.MaxFuture.D()}
	if o.MaxSkew == 0 {
		o.MaxSkew = -1
	}
	if o.MaxFuture == 0 {
		o.MaxFuture = decode.NoMaxFuture
	}
	for _, f := range d.Fields {
		o.Fields = append(o.Fields, decode.Field{Name: f.Name, Path: f.Path})
	}
	return o
}

// SourceType is the kind of a source; its zero value, SourceMQTT, is the
// default.
type SourceType uint8

// Source types.
const (
	// SourceMQTT subscribes through paho to any broker.
	SourceMQTT SourceType = iota
	// SourceEmbedded takes the embedded MQTT listener's messages in-process.
	SourceEmbedded
	// SourceWebSocket is a WebSocket endpoint sensors push to.
	SourceWebSocket
)

var sourceTypeNames = [...]string{"mqtt", "embedded", "websocket"}

func (t SourceType) String() string { return record.EnumName(t, sourceTypeNames[:], "SourceType") }

// EnumValues lists the names UnmarshalText accepts.
func (SourceType) EnumValues() []string { return sourceTypeNames[:] }

// MarshalText returns the type's name.
func (t SourceType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText parses a source type's name.
func (t *SourceType) UnmarshalText(b []byte) error {
	return record.UnmarshalEnum(t, "source type", b, sourceTypeNames[:])
}
