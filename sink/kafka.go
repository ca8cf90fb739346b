package sink

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/edgeplane/edgeplane/internal/ratelog"
	"github.com/edgeplane/edgeplane/internal/tlsconf"
)

// KafkaOptions configure the producer the forwarder uses.
type KafkaOptions struct {
	Brokers  []string
	ClientID string // default "edgeplane"
	// Compression is "zstd" (default: level 1, 64 KiB window, through
	// zstdCompressor), "snappy", "lz4", "gzip" or "none" (franz-go's
	// compressor).
	Compression string
	// AutoCreateTopics lets the broker create a missing topic on first
	// produce (the broker must allow it too).
	AutoCreateTopics bool
	// MaxBufferedRecords and MaxBufferedBytes keep the client's own
	// buffer small: JetStream is the buffer. Defaults 20000 records (one
	// forwarder batch of 32 full json frames fits) and 32 MiB; the
	// gateway sets the bytes from its memory budget (KafkaBufferFor).
	MaxBufferedRecords int
	MaxBufferedBytes   int
	// MetadataMinAge bounds how often metadata may be refreshed; low so
	// that leader changes recover fast. Default 250 ms.
	MetadataMinAge time.Duration

	TLS  TLSOptions
	SASL SASLOptions
	// Logger receives the client's warnings and errors, each message at
	// most once per ratelog.DefaultInterval (with the count of the lines
	// suppressed); nil silences them.
	Logger *slog.Logger
}

// TLSOptions configure TLS to the brokers.
type TLSOptions struct {
	Enabled            bool
	CAFile             string
	CertFile, KeyFile  string
	ServerName         string
	InsecureSkipVerify bool
}

// SASLOptions configure SASL authentication.
type SASLOptions struct {
	// Mechanism is "" (none), "plain", "scram-sha-256" or "scram-sha-512".
	Mechanism          string
	Username, Password string
}

// DefaultKafkaMaxBufferedBytes is KafkaOptions.MaxBufferedBytes's
// default, and the most KafkaBufferFor gives.
const DefaultKafkaMaxBufferedBytes = 32 << 20

// minKafkaBufferedBytes is the least KafkaBufferFor gives: a forwarder
// batch of full frames (32 × 256 KiB) with room for franz-go's batching.
const minKafkaBufferedBytes = 8 << 20

// KafkaBufferFor is franz-go's produce buffer (KafkaOptions.MaxBufferedBytes)
// for a gateway memory budget of limit bytes: a sixteenth of it, within
// [8 MiB, 32 MiB] — 16 MiB at the default 256 MiB. JetStream is the
// buffer; this one only has to hold the records in flight, and a full one
// makes the forwarder wait, it loses nothing. config's memory estimate
// charges the same figure (config.FixedMemory).
func KafkaBufferFor(limit int64) int {
	return int(min(max(limit/16, minKafkaBufferedBytes), DefaultKafkaMaxBufferedBytes))
}

// NewKafkaClient returns a producer client: acks from all in-sync replicas,
// idempotent writes (franz-go's default), Java-compatible murmur2 key
// partitioning, small linger.
func NewKafkaClient(o KafkaOptions) (*kgo.Client, error) {
	if len(o.Brokers) == 0 {
		return nil, errors.New("sink: no kafka brokers")
	}
	if o.ClientID == "" {
		o.ClientID = "edgeplane"
	}
	if o.MaxBufferedRecords <= 0 {
		o.MaxBufferedRecords = 20000
	}
	if o.MaxBufferedBytes <= 0 {
		o.MaxBufferedBytes = DefaultKafkaMaxBufferedBytes
	}
	if o.MetadataMinAge <= 0 {
		o.MetadataMinAge = 250 * time.Millisecond
	}
	compression, err := compressionOpt(o.Compression)
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(o.Brokers...),
		kgo.ClientID(o.ClientID),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		compression,
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		// No RecordDeliveryTimeout: franz-go measures it from the record's
		// timestamp, which is the aggregate's emission time, so a backlog
		// older than the timeout would fail at once after an outage. The
		// forwarder bounds each delivery with a context instead.
		kgo.MaxBufferedRecords(o.MaxBufferedRecords),
		kgo.MaxBufferedBytes(o.MaxBufferedBytes),
		kgo.MetadataMinAge(o.MetadataMinAge),
		kgo.MetadataMaxAge(30 * time.Second),
		kgo.ProducerLinger(5 * time.Millisecond),
		// A batch a broker keeps refusing with a retriable error (not
		// enough replicas, leader not available, …) fails after
		// recordRetries tries, about 1.5 s of backoff, instead of being
		// retried silently until DeliveryTimeout: the forwarder then
		// counts the cause and retries the frame itself. franz-go fails
		// a record only when that keeps the idempotent sequence valid.
		kgo.RecordRetries(recordRetries),
		kgo.RetryBackoffFn(func(tries int) time.Duration {
			return min(time.Duration(tries)*100*time.Millisecond, 2*time.Second)
		}),
		// No KIP-714 client metrics: a broker offering a subscription
		// would have the client push its metrics every interval over the
		// gateway's uplink, and each subscription builds a compressor set
		// whose lz4 writer alone allocates 8 MiB (seen in the 10k-series
		// benchmark's heap profile). The gateway reports on its own
		// telemetry topic and /metrics.
		kgo.DisableClientMetrics(),
	}
	if o.AutoCreateTopics {
		opts = append(opts, kgo.AllowAutoTopicCreation())
	}
	if o.TLS.Enabled {
		tc, err := tlsconf.Client(tlsconf.Files{CAFile: o.TLS.CAFile, CertFile: o.TLS.CertFile, KeyFile: o.TLS.KeyFile,
			ServerName: o.TLS.ServerName, InsecureSkipVerify: o.TLS.InsecureSkipVerify})
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	switch o.SASL.Mechanism {
	case "":
	case "plain":
		opts = append(opts, kgo.SASL(plain.Auth{User: o.SASL.Username, Pass: o.SASL.Password}.AsMechanism()))
	case "scram-sha-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: o.SASL.Username, Pass: o.SASL.Password}.AsSha256Mechanism()))
	case "scram-sha-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: o.SASL.Username, Pass: o.SASL.Password}.AsSha512Mechanism()))
	default:
		return nil, fmt.Errorf("sink: unknown SASL mechanism %q", o.SASL.Mechanism)
	}
	// The hook counts the client's failed connections and produce
	// requests for the forwarder (see attemptHook).
	opts = append(opts, kgo.WithHooks(&attemptHook{}))
	if o.Logger != nil {
		opts = append(opts, kgo.WithLogger(kgoLogger{ratelog.New(o.Logger.With("component", "kafka"), ratelog.DefaultInterval)}))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("sink: kafka client: %w", err)
	}
	return cl, nil
}

// recordRetries is how many times the client tries a produce batch
// before failing its records to the forwarder (see NewKafkaClient).
const recordRetries = 5

// compressionOpt is the producer's compression: zstd through
// zstdCompressor (less memory than franz-go's own), the others through
// franz-go's compressor.
func compressionOpt(s string) (kgo.ProducerOpt, error) {
	switch s {
	case "", "zstd":
		return kgo.WithCompressor(zstdCompressor{}), nil
	case "snappy":
		return kgo.ProducerBatchCompression(kgo.SnappyCompression()), nil
	case "lz4":
		return kgo.ProducerBatchCompression(kgo.Lz4Compression()), nil
	case "gzip":
		return kgo.ProducerBatchCompression(kgo.GzipCompression()), nil
	case "none":
		return kgo.ProducerBatchCompression(kgo.NoCompression()), nil
	}
	return nil, fmt.Errorf("sink: unknown compression %q", s)
}

// kgoLogger adapts slog to franz-go's logger, passing warnings and
// errors. The client repeats them on every retry while a broker is down
// ("unable to open connection to broker" about once a second), so each
// message is rate-limited.
type kgoLogger struct{ l *ratelog.Logger }

func (k kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }
func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	switch level {
	case kgo.LogLevelError:
		k.l.Error(msg, keyvals...)
	case kgo.LogLevelWarn:
		k.l.Warn(msg, keyvals...)
	default:
		k.l.Slog().Debug(msg, keyvals...)
	}
}
