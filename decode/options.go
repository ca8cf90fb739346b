package decode

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/edgeplane/edgeplane/record"
)

// Format is the payload format a source decodes.
type Format uint8

// Payload formats. See PAYLOADS.md for examples of each.
const (
	// FormatJSON is one JSON document per message with the key, time and
	// fields at configured paths.
	FormatJSON Format = iota
	// FormatSenML is a SenML JSON pack (RFC 8428).
	//
	// A pack is a JSON array of records. Base fields (bn, bt, bu, bv, bs, bver)
	// apply to their record and every later one until replaced. A record with a
	// numeric v yields one reading when its name n (without bn) equals the path
	// of a configured field; its value is bv+v and its time bt+t seconds,
	// rounded to ms, where a sum below 2^28 is relative to the arrival time (such
	// readings carry record.FlagArrivalTime, since their position in time comes
	// from the arrival clock). Records with vs, vb, vd or s only are skipped and
	// counted in DecodeStats.SenMLNotV, records whose name matches no field in
	// DecodeStats.SenMLUnmatched. The series key is bn, or the topic when bn is
	// empty, unless key is configured.
	//
	// The whole pack is rejected when it is not an array of objects, a known
	// field has the wrong JSON type, a record has an unknown must-understand
	// field (a name ending in '_'), a matched record's value is not finite
	// (non_numeric) or its time is out of range, or no record yields a reading
	// (missing_field).
	FormatSenML
	// FormatTTN is a The Things Stack v3 uplink message. The key defaults
	// to end_device_ids.device_id, field paths are relative to
	// uplink_message.decoded_payload, and the time is received_at (The
	// Things Stack's own clock), else uplink_message.received_at (the
	// network server's), else arrival. Radio gateway clocks run fast, so
	// their time (uplink_message.rx_metadata.0.time) is used only when
	// time_path selects it.
	// Messages without decoded_payload (joins, acks) yield no reading and
	// are rejected as missing_field.
	FormatTTN
	// FormatZigbee2MQTT is a Zigbee2MQTT device state message, published at
	// BASE/FRIENDLY_NAME. The key defaults to the topic without its first
	// level (the friendly name, which may contain '/'); topics under
	// BASE/bridge, commands (…/set, …/set/ATTR, …/get, …/get/ATTR) and
	// …/availability are rejected as topic_mismatch. Fields are at top
	// level by default; the time is the arrival time unless time_path (for
	// example last_seen) is set; "ON"/"OFF" read as 1/0.
	FormatZigbee2MQTT
)

var formatNames = [...]string{"json", "senml", "ttn", "zigbee2mqtt"}

// String returns the configuration name of f.
func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("Format(%d)", f)
}

// UnmarshalText parses a format name (json, senml, ttn, zigbee2mqtt).
func (f *Format) UnmarshalText(b []byte) error {
	v, err := ParseFormat(string(b))
	*f = v
	return err
}

// EnumValues lists the names UnmarshalText accepts.
func (Format) EnumValues() []string { return formatNames[:] }

// MarshalText returns the format's name.
func (f Format) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// ParseFormat returns the Format named s; "" is FormatJSON.
func ParseFormat(s string) (Format, error) {
	if s == "" {
		return FormatJSON, nil
	}
	for i, n := range formatNames {
		if s == n {
			return Format(i), nil
		}
	}
	return 0, fmt.Errorf("unknown format %q (want json, senml, ttn or zigbee2mqtt)", s)
}

// TimeUnit says how the value at time_path is read.
type TimeUnit uint8

// Time units.
const (
	// TimeAuto reads numbers (and numeric strings) by magnitude — below 1e11
	// seconds, below 1e14 ms, below 1e17 µs, else ns — and other strings as
	// RFC 3339. Seconds are guessed up to year 5138, so ms timestamps before
	// 1973-03-03 are misread; set the unit when that matters.
	TimeAuto TimeUnit = iota
	TimeS
	TimeMS
	TimeUS
	TimeNS
	TimeRFC3339
)

var timeUnitNames = [...]string{"auto", "s", "ms", "us", "ns", "rfc3339"}

// String returns the configuration name of u.
func (u TimeUnit) String() string {
	if int(u) < len(timeUnitNames) {
		return timeUnitNames[u]
	}
	return fmt.Sprintf("TimeUnit(%d)", u)
}

// UnmarshalText parses a time unit name.
func (u *TimeUnit) UnmarshalText(b []byte) error {
	v, err := ParseTimeUnit(string(b))
	*u = v
	return err
}

// EnumValues lists the names UnmarshalText accepts.
func (TimeUnit) EnumValues() []string { return timeUnitNames[:] }

// MarshalText returns the unit's name.
func (u TimeUnit) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// ParseTimeUnit returns the TimeUnit named s; "" is TimeAuto.
func ParseTimeUnit(s string) (TimeUnit, error) {
	if s == "" {
		return TimeAuto, nil
	}
	for i, n := range timeUnitNames {
		if s == n {
			return TimeUnit(i), nil
		}
	}
	return 0, fmt.Errorf("unknown time unit %q (want auto, s, ms, us, ns or rfc3339)", s)
}

// Defaults of Options.
const (
	DefaultMaxPayload = 65536
	DefaultMaxSkew    = 24 * time.Hour
	// DefaultMaxFuture bounds how far ahead of its arrival time a
	// reading's event time may be (Options.MaxFuture).
	DefaultMaxFuture = 5 * time.Minute
	// NoMaxFuture, as Options.MaxFuture, disables the future bound of
	// max_future (max_time_skew, when set, still bounds both directions).
	// It is the only negative MaxFuture Validate accepts.
	NoMaxFuture time.Duration = -1
	// MaxKeyLen bounds a series key in bytes; longer keys are rejected as
	// malformed, so a device cannot bloat the series table with huge keys.
	MaxKeyLen = 256
	// MaxPayloadLimit bounds max_payload itself.
	MaxPayloadLimit = 16 << 20
)

// Field names one value field of a source and where to find it.
//
// For json and zigbee2mqtt, Path is a JSON path from the document root; for
// ttn it is relative to uplink_message.decoded_payload; for senml it is the
// record name n (after the base name) to match. An empty Path is Name.
type Field struct {
	Name string
	Path string
}

// Options configure the decoder of one source. JSON paths are dotted:
// "a.b.c" descends objects, and a level that is a decimal number also
// indexes arrays, so "uplink_message.rx_metadata.0.time" is element 0 of
// rx_metadata. Keys that contain '.' cannot be addressed; "a[0]" is rejected
// with a hint to write "a.0".
//
// The zero value of MaxPayload, MaxSkew and MaxFuture selects its default; config
// fills every default explicitly, so a file's explicit value is what runs.
type Options struct {
	Format Format
	// TopicPattern, for example "city/{district}/{type}/{id}", must match
	// the topic of every message (else topic_mismatch) and names the topic
	// variables Key may use. Empty accepts any topic. See TopicPattern.
	TopicPattern string
	// Key is a template over the variables of TopicPattern, for example
	// "{district}/{id}". The default depends on the format: json uses the
	// whole topic; senml the base name bn (the topic when bn is empty); ttn
	// end_device_ids.device_id; zigbee2mqtt the topic without its first
	// level (the friendly name, which may contain '/').
	Key string
	// KeyPath is the JSON path of the key (a string or a number); it wins
	// over Key when set. Not used by senml.
	KeyPath string
	// TimePath is the JSON path of the event time. When set, a message
	// without it is rejected as missing_field. When empty, json and
	// zigbee2mqtt use the arrival time; ttn uses its own rule (see
	// FormatTTN). Not used by senml.
	TimePath string
	// TimeUnit says how the value at TimePath is read (needs TimePath when
	// not TimeAuto).
	TimeUnit TimeUnit
	// Fields are the value fields, at least one. Their order gives
	// Reading.Field.
	Fields []Field
	// MaxPayload is the largest accepted payload in bytes (0: the default
	// 65536); larger payloads are rejected as too_large before parsing.
	MaxPayload int
	// MaxSkew bounds how far from its arrival time a reading's event time
	// may be. A reading more than MaxSkew behind its arrival time is
	// rejected as time_out_of_range. Ahead of arrival, the bound is the
	// smaller of MaxSkew and MaxFuture (of those enabled): a reading
	// further ahead than that is rejected as time_in_future. 0 selects
	// DefaultMaxSkew; a negative value disables the check.
	MaxSkew time.Duration
	// MaxFuture bounds how far ahead of its arrival time a reading's event
	// time may be: a reading more than min(MaxFuture, MaxSkew) ahead of
	// arrival is rejected as time_in_future (and so moves no watermark).
	// 0 selects DefaultMaxFuture; NoMaxFuture disables this bound, leaving
	// MaxSkew (when enabled) to bound the future; any other negative value
	// is invalid.
	MaxFuture time.Duration
}

// FieldNames returns the names of the fields in order: Reading.Field
// indexes it.
func (c *Options) FieldNames() []string {
	names := make([]string, len(c.Fields))
	for i, f := range c.Fields {
		names[i] = f.Name
	}
	return names
}

// Validate returns every problem of c as record.OptionErrors, or nil. Each
// problem's Option is a path relative to the options, such as
// "fields[1].path" or "time_unit".
func (c *Options) Validate() error {
	var ps record.OptionErrors
	add := func(path, format string, args ...any) { ps.Add(path, fmt.Sprintf(format, args...)) }
	if c.Format > FormatZigbee2MQTT {
		add("format", "unknown format %d", c.Format)
	}
	var pat *TopicPattern
	var err error
	if c.TopicPattern != "" {
		if pat, err = ParseTopicPattern(c.TopicPattern); err != nil {
			add("topic_pattern", "%v", err)
		}
	}
	if c.Key != "" {
		switch {
		case c.TopicPattern == "":
			add("key", "key template %q needs topic_pattern to name its variables", c.Key)
		case pat != nil:
			if _, err := ParseKeyTemplate(c.Key, pat); err != nil {
				add("key", "%v", err)
			}
		}
	}
	if c.KeyPath != "" {
		if c.Format == FormatSenML {
			add("key_path", "not used by format senml (the key is bn, or set key)")
		} else if err := checkPath(c.KeyPath); err != nil {
			add("key_path", "%v", err)
		}
	}
	if c.TimePath != "" {
		if c.Format == FormatSenML {
			add("time_path", "not used by format senml (time is bt+t)")
		} else if err := checkPath(c.TimePath); err != nil {
			add("time_path", "%v", err)
		}
	}
	if c.TimeUnit > TimeRFC3339 {
		add("time_unit", "unknown time unit %d", c.TimeUnit)
	} else if c.TimeUnit != TimeAuto && c.TimePath == "" {
		add("time_unit", "has no effect without time_path")
	}
	if len(c.Fields) == 0 {
		add("fields", "at least one field is required")
	}
	if len(c.Fields) > math.MaxUint16+1 {
		add("fields", "%d fields, at most %d", len(c.Fields), math.MaxUint16+1)
	}
	for i, f := range c.Fields {
		p := fmt.Sprintf("fields[%d]", i)
		if f.Name == "" {
			add(p+".name", "empty field name")
		}
		for j := range i {
			if f.Name != "" && c.Fields[j].Name == f.Name {
				add(p+".name", "duplicate field name %q (also fields[%d])", f.Name, j)
				break
			}
		}
		path := f.Path
		if path == "" {
			path = f.Name
		}
		if path != "" && c.Format != FormatSenML {
			if err := checkPath(path); err != nil {
				add(p+".path", "%v", err)
			}
		}
	}
	if c.MaxFuture < 0 && c.MaxFuture != NoMaxFuture {
		add("max_future", "%v is negative (0 in the configuration file disables the check)", c.MaxFuture)
	}
	if c.MaxPayload < 0 || c.MaxPayload > MaxPayloadLimit {
		add("max_payload", "%d out of range 1..%d", c.MaxPayload, MaxPayloadLimit)
	}
	return ps.Err()
}

// checkPath checks the syntax of a dotted JSON path.
func checkPath(p string) error {
	if strings.ContainsAny(p, "[]") {
		return fmt.Errorf("path %q: write array indexes as levels, e.g. \"a.0.b\" for a[0].b", p)
	}
	for _, seg := range strings.Split(p, ".") {
		if seg == "" {
			return fmt.Errorf("path %q has an empty level", p)
		}
	}
	return nil
}
