package decode

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// Reason is why a message was rejected. String gives its stable metric
// label.
type Reason uint8

// Reject reasons.
const (
	ReasonNone Reason = iota
	// ReasonMalformed: not valid JSON, the wrong shape for the format, or a
	// key or time of the wrong type or syntax.
	ReasonMalformed
	// ReasonMissingField: a configured key or time is absent, or the message
	// yields no reading at all.
	ReasonMissingField
	// ReasonNonNumeric: a configured field is present but not a number.
	ReasonNonNumeric
	// ReasonTooLarge: the payload exceeds max_payload.
	ReasonTooLarge
	// ReasonTimeRange: the event time is more than max_time_skew behind
	// the arrival time, or outside years 0001–9999.
	ReasonTimeRange
	// ReasonTopic: the topic does not match topic_pattern or the format's
	// topic shape.
	ReasonTopic
	// ReasonRateLimited: a WebSocket frame over its connection's rate
	// limit, refused without decoding.
	ReasonRateLimited
	// ReasonTimeFuture: the event time is ahead of the arrival time by
	// more than max_future (or max_time_skew, when that is smaller). Such a
	// reading is refused before it reaches a pipeline, so it moves no
	// watermark.
	ReasonTimeFuture
	// NumReasons is the number of reasons defined here; the lead's reasons
	// follow it.
	NumReasons
)

var reasonNames = [NumReasons]string{
	"none", "malformed", "missing_field", "non_numeric", "too_large", "time_out_of_range", "topic_mismatch",
	"rate_limited", "time_in_future",
}

// String returns the metric label of r.
func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason_%d", r)
}

// Reading is one decoded value. Its key bytes live in the Batch.
type Reading struct {
	// Field indexes Options.Fields.
	Field uint16
	// Flags holds record.FlagArrivalTime when Time is the arrival time.
	Flags uint8
	// Time is the event time in Unix ms.
	Time int64
	// Value is the reading; never NaN or ±Inf.
	Value  float64
	keyOff uint32
	keyLen uint32
}

// Batch collects the readings of one or more messages. It is reused across
// messages: its contents are valid until the next Reset or Decode into it.
// The readings of one message share one key, except in a SenML pack whose
// records change bn.
type Batch struct {
	Readings []Reading
	// Seq is the source's arrival sequence number of the message (or
	// WebSocket frame) the readings came from: it increases by one per
	// delivered batch of a source, starting at 1, across all of the
	// source's connections. A source with held acknowledgements
	// (MQTTOptions.HoldAcks) acknowledges the message to the broker once
	// AckThrough is called with Seq or higher. Reset does not change it.
	Seq uint64
	// Vars holds the values of the topic_pattern variables (in the order
	// of TopicPattern.Vars) of the topic of the last message decoded into
	// the batch, for filters on tags — set once the topic matched, even if
	// the payload is then rejected; empty without a topic_pattern. They
	// alias that topic.
	Vars []string
	// Local is for the Deliver function's own state that belongs with the
	// receiver (such as ring producer handles); ingest never reads or
	// writes it. A receiver and its Batch are used by one goroutine at a
	// time, but may pass between goroutines (WebSocket connections share
	// a pool of receivers) and are dropped without notice when their
	// source stops or the pool sheds them.
	Local any
	keys  []byte
}

// Key returns the series key of reading i. It aliases the Batch's storage.
func (b *Batch) Key(i int) []byte {
	r := &b.Readings[i]
	end := r.keyOff + r.keyLen
	return b.keys[r.keyOff:end:end]
}

// Reset empties b, keeping its storage.
func (b *Batch) Reset() {
	b.Readings = b.Readings[:0]
	b.keys = b.keys[:0]
	b.Vars = b.Vars[:0] // the next Decode overwrites the values it sets
}

// DecodeStats counts parts of accepted messages that were skipped. Rejected
// messages are not counted here; their Reason is returned by Decode.
type DecodeStats struct {
	// MissingFields counts configured fields absent (or null) in a message
	// that still yielded at least one reading.
	MissingFields uint64
	// SenMLNotV counts SenML records without a numeric v (vs, vb, vd or s
	// only, or no value at all).
	SenMLNotV uint64
	// SenMLUnmatched counts SenML records whose name matched no field.
	SenMLUnmatched uint64
}

// path is a compiled dotted JSON path.
type path struct {
	src  string
	segs []pathSeg
}

type pathSeg struct {
	key string
	idx int // array index, or -1 when key is not a decimal number
}

func compilePath(prefix, p string) path {
	full := p
	if prefix != "" {
		full = prefix + "." + p
	}
	ss := strings.Split(full, ".")
	cp := path{src: p, segs: make([]pathSeg, len(ss))}
	for i, s := range ss {
		idx := -1
		if len(s) > 0 && len(s) <= 9 {
			idx = 0
			for j := 0; j < len(s); j++ {
				if s[j] < '0' || s[j] > '9' {
					idx = -1
					break
				}
				idx = idx*10 + int(s[j]-'0')
			}
		}
		cp.segs[i] = pathSeg{key: s, idx: idx}
	}
	return cp
}

// lookup returns the value at p, or nil. It does not allocate.
func (p *path) lookup(v *fastjson.Value) *fastjson.Value {
	for i := range p.segs {
		sg := &p.segs[i]
		switch v.Type() {
		case fastjson.TypeObject:
			o, _ := v.Object()
			if v = o.Get(sg.key); v == nil {
				return nil
			}
		case fastjson.TypeArray:
			a, _ := v.Array()
			if sg.idx < 0 || sg.idx >= len(a) {
				return nil
			}
			v = a[sg.idx]
		default:
			return nil
		}
	}
	return v
}

// keyKind says where a message's series key comes from.
type keyKind uint8

const (
	keyTopic      keyKind = iota // the whole topic
	keyTemplate                  // Options.Key over topic variables
	keyPath                      // a JSON path (key_path, or ttn's default)
	keySenMLBase                 // bn, else the topic
	keyZigbeeName                // the topic without its first level
)

// Decoder decodes the payloads of one source into readings.
//
// A Decoder is not safe for concurrent use: use one per goroutine (it owns
// a fastjson.Parser). It retains nothing of a message past Decode.
//
// Checks run in this order, the first failure deciding the Reason: payload
// size (too_large), topic_pattern (topic_mismatch), JSON syntax
// (malformed), then per format the key, the time, and the fields.
//
// Key: key_path if set, else the key template if set, else the format's
// default (see Options.Key). A key that is absent or empty is
// missing_field; longer than MaxKeyLen, or not a string or number,
// malformed.
//
// Time (json, zigbee2mqtt): the value at time_path in time_unit, or the
// arrival time with record.FlagArrivalTime when time_path is empty. A
// configured time_path that is absent or null is missing_field (not a
// silent fall back to arrival); a value of the wrong type or syntax is
// malformed. ttn: received_at, else uplink_message.received_at (both RFC
// 3339, stamped by The Things Stack's servers), else the arrival time;
// time_path, when set, replaces this rule (for example
// uplink_message.rx_metadata.0.time, the radio gateway's clock).
// Every time must lie in years 0001–9999 and at most max_time_skew behind
// arrival (else time_out_of_range), and at most the smaller of max_future
// and max_time_skew ahead of arrival (else time_in_future).
//
// Fields (json, ttn, zigbee2mqtt): a configured field that is absent or
// null is skipped (counted in DecodeStats.MissingFields); a present field
// must be a finite number, a numeric string ("12.4"), or a bool (1/0) — and
// for zigbee2mqtt also "ON"/"OFF" (1/0) — else the whole message is
// rejected as non_numeric. A message yielding no reading is missing_field.
// All readings of such a message share its key and time.
//
// SenML: see FormatSenML.
type Decoder struct {
	p        fastjson.Parser
	format   Format
	maxLen   int
	maxSkew  int64 // ms behind arrival; 0 disables
	maxAhead int64 // ms ahead of arrival: min(max_future, max_time_skew); 0 disables

	pattern *TopicPattern
	keyKind keyKind
	keyTmpl *KeyTemplate
	keyPath path

	timePaths    []path // tried in order
	timeUnit     TimeUnit
	timeRequired bool

	fields []path // json, ttn, zigbee2mqtt
	names  []string

	// SenML state of the record being visited.
	senml senmlState
	visit func(k []byte, v *fastjson.Value)

	// flat is the fast path for flat objects (decode_flat.go), or nil.
	flat *flatPlan

	scratch []byte
	stats   DecodeStats
}

// NewDecoder returns a Decoder for c, or the record.OptionErrors of
// c.Validate.
func NewDecoder(c *Options) (*Decoder, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	d := &Decoder{maxLen: c.MaxPayload, format: c.Format, timeUnit: c.TimeUnit}
	if d.maxLen == 0 {
		d.maxLen = DefaultMaxPayload
	}
	switch sd := c.MaxSkew; {
	case sd == 0:
		d.maxSkew = DefaultMaxSkew.Milliseconds()
	case sd > 0:
		d.maxSkew = max(sd.Milliseconds(), 1)
	}
	switch fd := c.MaxFuture; {
	case fd == 0:
		d.maxAhead = DefaultMaxFuture.Milliseconds()
	case fd > 0:
		d.maxAhead = max(fd.Milliseconds(), 1)
	}
	if d.maxSkew > 0 && (d.maxAhead == 0 || d.maxSkew < d.maxAhead) {
		d.maxAhead = d.maxSkew
	}
	if c.TopicPattern != "" {
		d.pattern, _ = ParseTopicPattern(c.TopicPattern)
	}

	switch d.format {
	case FormatSenML:
		d.keyKind = keySenMLBase
	case FormatTTN:
		d.keyKind = keyPath
		d.keyPath = compilePath("", "end_device_ids.device_id")
	case FormatZigbee2MQTT:
		d.keyKind = keyZigbeeName
	default:
		d.keyKind = keyTopic
	}
	if c.Key != "" {
		d.keyKind = keyTemplate
		d.keyTmpl, _ = ParseKeyTemplate(c.Key, d.pattern)
	}
	if c.KeyPath != "" {
		d.keyKind = keyPath
		d.keyPath = compilePath("", c.KeyPath)
	}

	switch {
	case c.TimePath != "":
		d.timePaths = []path{compilePath("", c.TimePath)}
		d.timeRequired = true
	case d.format == FormatTTN:
		d.timePaths = []path{
			compilePath("", "received_at"),
			compilePath("", "uplink_message.received_at"),
		}
		d.timeUnit = TimeRFC3339
	}

	prefix := ""
	if d.format == FormatTTN {
		prefix = "uplink_message.decoded_payload"
	}
	for _, f := range c.Fields {
		p := f.Path
		if p == "" {
			p = f.Name
		}
		d.names = append(d.names, p)
		if d.format != FormatSenML {
			d.fields = append(d.fields, compilePath(prefix, p))
		}
	}
	if d.format == FormatSenML {
		d.visit = d.senmlVisit
	}
	d.flat = newFlatPlan(d)
	return d, nil
}

// Format returns the format d decodes.
func (d *Decoder) Format() Format { return d.format }

// Stats returns the counts of skipped parts of accepted messages since the
// Decoder was made or ResetStats was called.
func (d *Decoder) Stats() DecodeStats { return d.stats }

// ResetStats zeroes the counts returned by Stats.
func (d *Decoder) ResetStats() { d.stats = DecodeStats{} }

// Decode appends the readings of one message to b. topic is the message's
// topic (MQTT) or its equivalent; arrivalMs is its arrival time in Unix ms,
// used when the message carries no time and for the max_time_skew and
// max_future checks.
//
// On rejection it returns the reason and an error naming the offending
// path or value, and leaves b as it was. Decode does not allocate on
// success once b and d have warmed up.
func (d *Decoder) Decode(topic string, payload []byte, arrivalMs int64, b *Batch) (Reason, error) {
	if len(payload) > d.maxLen {
		return ReasonTooLarge, fmt.Errorf("payload of %d bytes exceeds max_payload %d", len(payload), d.maxLen)
	}
	if d.pattern != nil && !d.matchTopic(topic, b) {
		return ReasonTopic, fmt.Errorf("topic %q does not match topic_pattern %q", short(topic), d.pattern.src)
	}
	if d.flat != nil && d.decodeFlat(topic, payload, arrivalMs, b) {
		return ReasonNone, nil
	}
	v, err := d.p.ParseBytes(payload)
	if err != nil {
		// fastjson's messages nest one prefix per level and quote the
		// tail: keep them short enough to log.
		return ReasonMalformed, errors.New("invalid JSON: " + shorten(err.Error(), 160))
	}
	nr, nk := len(b.Readings), len(b.keys)
	var r Reason
	if d.format == FormatSenML {
		r, err = d.decodeSenML(v, topic, arrivalMs, b)
	} else {
		r, err = d.decodeObject(v, topic, arrivalMs, b)
	}
	if r != ReasonNone {
		b.Readings = b.Readings[:nr]
		b.keys = b.keys[:nk]
	}
	return r, err
}

// matchTopic matches topic against d's topic_pattern, leaving the values
// of its variables in b.Vars, or b.Vars empty when it does not match.
func (d *Decoder) matchTopic(topic string, b *Batch) bool {
	var ok bool
	if b.Vars, ok = d.pattern.Match(topic, b.Vars); !ok {
		clear(b.Vars)
		b.Vars = b.Vars[:0]
	}
	return ok
}

// appendKey appends the topic-derived key (keyTopic, keyTemplate or
// keyZigbeeName) to b.keys.
func (d *Decoder) appendTopicKey(topic string, b *Batch) (Reason, error) {
	start := len(b.keys)
	switch d.keyKind {
	case keyTemplate:
		b.keys = d.keyTmpl.Append(b.keys, b.Vars)
	case keyZigbeeName:
		i := strings.IndexByte(topic, '/')
		name := topic[i+1:]
		if i < 0 || !zigbeeStateTopic(name) {
			return ReasonTopic, fmt.Errorf("topic %q is not a zigbee2mqtt device state topic", short(topic))
		}
		b.keys = append(b.keys, name...)
	default:
		b.keys = append(b.keys, topic...)
	}
	return checkKey(b, start)
}

// zigbeeStateTopic reports whether name, the topic after the base topic, is
// a device's state rather than the bridge's topics, a command (…/set,
// …/set/attr, …/get) or availability.
func zigbeeStateTopic(name string) bool {
	switch {
	case name == "" || name == "bridge" || strings.HasPrefix(name, "bridge/"),
		strings.HasSuffix(name, "/set") || strings.HasSuffix(name, "/get") || strings.HasSuffix(name, "/availability"),
		strings.Contains(name, "/set/") || strings.Contains(name, "/get/"):
		return false
	}
	return true
}

// checkKey checks the key appended to b.keys at start.
func checkKey(b *Batch, start int) (Reason, error) {
	n := len(b.keys) - start
	switch {
	case n == 0:
		return ReasonMissingField, errors.New("empty series key")
	case n > MaxKeyLen:
		return ReasonMalformed, fmt.Errorf("series key of %d bytes exceeds %d", n, MaxKeyLen)
	case uint64(len(b.keys)) > math.MaxUint32:
		return ReasonTooLarge, errors.New("batch key storage full")
	}
	return ReasonNone, nil
}

// checkTime applies the year range, max_time_skew (behind arrival) and
// min(max_future, max_time_skew) (ahead of arrival) to ms: ReasonNone,
// ReasonTimeRange or ReasonTimeFuture.
func (d *Decoder) checkTime(ms, arrivalMs int64) Reason {
	if ms < minTimeMs || ms > maxTimeMs {
		return ReasonTimeRange
	}
	if arrivalMs < minTimeMs || arrivalMs > maxTimeMs {
		return ReasonNone
	}
	diff := ms - arrivalMs
	switch {
	case d.maxAhead > 0 && diff > d.maxAhead:
		return ReasonTimeFuture
	case d.maxSkew > 0 && -diff > d.maxSkew:
		return ReasonTimeRange
	}
	return ReasonNone
}

// timeError describes a time that checkTime refused with r.
func (d *Decoder) timeError(r Reason, ms, arrivalMs int64) string {
	if r == ReasonTimeFuture {
		bound := "max_future"
		if d.maxAhead == d.maxSkew {
			bound = "max_time_skew"
		}
		return fmt.Sprintf("%d ms is %d ms ahead of arrival %d ms (%s %d ms)", ms, ms-arrivalMs, arrivalMs, bound, d.maxAhead)
	}
	return fmt.Sprintf("%d ms is out of range (arrival %d ms, max_time_skew %d ms)", ms, arrivalMs, d.maxSkew)
}

// short bounds a value quoted in an error.
func short(s string) string {
	return shorten(s, 48)
}

// shorten bounds s to about n bytes, keeping its head and tail and whole
// UTF-8 sequences.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	h, t := n*2/3, len(s)-n/3
	for h > 0 && !utf8.RuneStart(s[h]) {
		h--
	}
	for t < len(s) && !utf8.RuneStart(s[t]) {
		t++
	}
	return s[:h] + "…" + s[t:]
}

// shortValue renders a JSON value for an error, bounded.
func shortValue(v *fastjson.Value) string {
	if v == nil {
		return "<absent>"
	}
	return short(string(v.MarshalTo(nil)))
}
