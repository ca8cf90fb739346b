package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as a Go duration string ("1m",
// "250ms") or as an integer number of seconds; "off" is -1ns, which the
// options that allow it read as disabled.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Ms returns d in milliseconds.
func (d Duration) Ms() int64 { return time.Duration(d).Milliseconds() }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "off" {
		*d = -1
		return nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*d = Duration(time.Duration(n) * time.Second)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("cannot parse duration %q (want e.g. 10s, 1m, 250ms)", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// ByteSize is a size in bytes written as an integer or with a unit: KB, MB,
// GB (powers of 1000) or KiB, MiB, GiB (powers of 1024).
type ByteSize int64

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *ByteSize) UnmarshalText(t []byte) error {
	s := strings.TrimSpace(string(t))
	mult := int64(1)
	num := s
	for _, u := range byteUnits {
		if strings.HasSuffix(s, u.suffix) {
			mult, num = u.mult, strings.TrimSpace(strings.TrimSuffix(s, u.suffix))
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return fmt.Errorf("cannot parse size %q (want e.g. 512MiB, 1GB, 1048576)", s)
	}
	if f*float64(mult) >= 1<<63 {
		return fmt.Errorf("size %q is too large", s)
	}
	*b = ByteSize(f * float64(mult))
	return nil
}

// MarshalText implements encoding.TextMarshaler.
// The largest binary unit that divides b is used: 2GiB, 64KiB, 1000.
func (b ByteSize) MarshalText() ([]byte, error) {
	for i := 3; i >= 0; i-- { // TiB, GiB, MiB, KiB
		if u := byteUnits[i]; b != 0 && int64(b)%u.mult == 0 {
			return append(strconv.AppendInt(nil, int64(b)/u.mult, 10), u.suffix...), nil
		}
	}
	return strconv.AppendInt(nil, int64(b), 10), nil
}
