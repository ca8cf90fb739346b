package sink

import (
	"fmt"
	"time"

	"github.com/edgeplane/edgeplane/record"
)

// MinBufferBytes is the smallest BufferOptions.MaxBytes accepted.
const MinBufferBytes = 1 << 20

// CheckTopic returns why s is not a valid Kafka topic name ("" when it is):
// 1 to 249 characters of letters, digits, '.', '_' and '-', not "." or "..".
func CheckTopic(s string) string {
	if s == "" {
		return "empty topic name"
	}
	if len(s) > 249 {
		return fmt.Sprintf("topic name of %d characters, at most 249", len(s))
	}
	if s == "." || s == ".." {
		return fmt.Sprintf("%q is not a valid topic name", s)
	}
	for _, r := range s {
		if r == '-' || r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			continue
		}
		return fmt.Sprintf("%q is not a valid Kafka topic name (letters, digits, '.', '_' and '-')", s)
	}
	return ""
}

// Validate reports every problem of o as record.OptionErrors, or nil.
// Zero values select their defaults and are valid.
func (o BufferOptions) Validate() error {
	var ps record.OptionErrors
	if o.MaxBytes != 0 && o.MaxBytes < MinBufferBytes {
		ps.Add("max_bytes", fmt.Sprintf("%d bytes is too small (at least 1MiB)", o.MaxBytes))
	}
	if o.OnFull > PushBack {
		ps.Add("on_full", fmt.Sprintf("unknown policy %d", o.OnFull))
	}
	if o.DuplicateWindow != 0 && o.DuplicateWindow < time.Second {
		ps.Add("duplicate_window", fmt.Sprintf("%s, must be at least 1s", o.DuplicateWindow))
	}
	return ps.Err()
}

// Validate reports every problem of o as record.OptionErrors, or nil.
func (o WriterOptions) Validate() error {
	var ps record.OptionErrors
	if msg := CheckTopic(o.Topic); msg != "" {
		ps.Add("topic", msg)
	}
	switch o.Format {
	case RecordJSON:
		if o.Compression != "" {
			ps.Add("compression", "only the compact format takes a compression (the json format is compressed by the Kafka client: kafka.compression)")
		}
	case RecordCompact:
		if _, err := ParseCompactCompression(o.Compression); err != nil {
			ps.Add("compression", err.Error())
		}
	default:
		ps.Add("format", fmt.Sprintf("unknown record format %d", o.Format))
	}
	switch {
	case o.Key > KeyID:
		ps.Add("key", fmt.Sprintf("unknown record key %d", o.Key))
	case o.Key == KeyID && o.Format == RecordCompact:
		ps.Add("key", "key: id needs format: json (a compact record holds a block of many aggregates, not one id; it is keyed by gateway)")
	}
	return ps.Err()
}

// Validate reports every problem of o as record.OptionErrors, or nil.
func (o LateWriterOptions) Validate() error {
	var ps record.OptionErrors
	if msg := CheckTopic(o.Topic); msg != "" {
		ps.Add("topic", msg)
	}
	return ps.Err()
}
