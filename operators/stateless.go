package operators

import (
	"fmt"
	"math"
	"strings"

	"github.com/edgeplane/edgeplane/record"
)

// chain is the stateless (per-sample) stage of a shard: dedup, filters,
// maps, deadband, in that order. "Stateless" means no windows: dedup and
// deadband keep a fixed amount of per-(series, field) memory, preallocated
// only when configured.
type chain struct {
	active bool

	filters [][]Filter // per field
	mapped  []bool     // per field
	scale   []float64  // per field
	offset  []float64  // per field

	deadband []Deadband // per field; Threshold < 0 = off
	dbOn     bool
	dbLast   []float64 // per key: last value passed
	dbTime   []int64   // per key: time of the last value passed; NoWatermark = none

	dedup  bool
	ddTime []int64 // per key × DedupDepth: recent distinct times; NoWatermark = empty
	ddNext []uint8 // per key: next slot to overwrite
}

// chain verdicts.
const (
	keep uint8 = iota
	dropFiltered
	dropDeduped
	dropDeadband
)

func newChain(c *Config, keys int, a *arena) chain {
	f := c.Fields
	ch := chain{
		filters: make([][]Filter, f),
		mapped:  make([]bool, f),
		scale:   make([]float64, f),
		offset:  make([]float64, f),
	}
	each := func(field int, fn func(i int)) {
		if field == AllFields {
			for i := range f {
				fn(i)
			}
			return
		}
		fn(field)
	}
	for _, flt := range c.Filters {
		each(flt.Field, func(i int) { ch.filters[i] = append(ch.filters[i], flt) })
		ch.active = true
	}
	for i := range ch.scale {
		ch.scale[i] = 1
	}
	for _, m := range c.Maps {
		each(m.Field, func(i int) {
			// compose: (v*s0 + o0)*s + o
			ch.scale[i] *= m.Scale
			ch.offset[i] = ch.offset[i]*m.Scale + m.Offset
			ch.mapped[i] = true
		})
		ch.active = true
	}
	if len(c.Deadbands) > 0 {
		ch.active, ch.dbOn = true, true
		ch.deadband = make([]Deadband, f)
		for i := range ch.deadband {
			ch.deadband[i].Threshold = -1
		}
		for _, db := range c.Deadbands {
			each(db.Field, func(i int) { ch.deadband[i] = db })
		}
		ch.dbLast = arenaMake[float64](a, keys)
		ch.dbTime = arenaMake[int64](a, keys) // initKeys, as keys come into use
	}
	if c.Dedup {
		ch.active, ch.dedup = true, true
		ch.ddTime = arenaMake[int64](a, keys*DedupDepth) // initKeys
		ch.ddNext = arenaMake[uint8](a, keys)
	}
	return ch
}

// initKeys initialises the per-key state of keys [from, to) (residency.go).
func (ch *chain) initKeys(from, to int) {
	if ch.dbOn {
		for i := from; i < to; i++ {
			ch.dbTime[i] = NoWatermark
		}
	}
	if ch.dedup {
		for i := from * DedupDepth; i < to*DedupDepth; i++ {
			ch.ddTime[i] = NoWatermark
		}
	}
}

// apply runs the chain on s (whose field and key are in range), rewriting
// s.Value when a map applies. It returns keep or the reason of the drop.
func (ch *chain) apply(s *record.Sample, key int) uint8 {
	if ch.dedup {
		ring := ch.ddTime[key*DedupDepth : key*DedupDepth+DedupDepth]
		for _, t := range ring {
			if t == s.Time {
				return dropDeduped
			}
		}
		n := ch.ddNext[key]
		ring[n] = s.Time
		ch.ddNext[key] = (n + 1) % DedupDepth
	}
	f := s.Field
	for _, flt := range ch.filters[f] {
		v := s.Value
		switch flt.Op {
		case InRange:
			if !(v >= flt.Min && v <= flt.Max) {
				return dropFiltered
			}
		case Equal:
			if v != flt.Min {
				return dropFiltered
			}
		case NotEqual:
			if v == flt.Min {
				return dropFiltered
			}
		}
	}
	if ch.mapped[f] {
		s.Value = s.Value*ch.scale[f] + ch.offset[f]
	}
	if ch.dbOn {
		if db := &ch.deadband[f]; db.Threshold >= 0 {
			last := ch.dbTime[key]
			if last != NoWatermark && math.Abs(s.Value-ch.dbLast[key]) < db.Threshold &&
				(db.MaxGap == 0 || s.Time-last < db.MaxGap) {
				return dropDeadband
			}
			ch.dbLast[key], ch.dbTime[key] = s.Value, s.Time
		}
	}
	return keep
}

// unit is a linear map to the base unit of a dimension: base = v*scale + offset.
type unit struct {
	dim           string
	scale, offset float64
}

var units = map[string]unit{
	"c": {"temperature", 1, 0}, "°c": {"temperature", 1, 0}, "cel": {"temperature", 1, 0},
	"k": {"temperature", 1, -273.15},
	"f": {"temperature", 5.0 / 9, -32 * 5.0 / 9}, "°f": {"temperature", 5.0 / 9, -32 * 5.0 / 9},
	"pa": {"pressure", 1, 0}, "hpa": {"pressure", 100, 0}, "kpa": {"pressure", 1000, 0},
	"mbar": {"pressure", 100, 0}, "bar": {"pressure", 1e5, 0}, "psi": {"pressure", 6894.757293168361, 0},
	"m": {"length", 1, 0}, "cm": {"length", 0.01, 0}, "mm": {"length", 0.001, 0}, "km": {"length", 1000, 0},
	"in": {"length", 0.0254, 0}, "ft": {"length", 0.3048, 0}, "mi": {"length", 1609.344, 0},
	"m/s": {"speed", 1, 0}, "km/h": {"speed", 1 / 3.6, 0}, "mph": {"speed", 0.44704, 0}, "kn": {"speed", 1852.0 / 3600, 0},
	"j": {"energy", 1, 0}, "wh": {"energy", 3600, 0}, "kwh": {"energy", 3.6e6, 0},
	"w": {"power", 1, 0}, "kw": {"power", 1000, 0},
	"ug/m3": {"concentration", 1, 0}, "µg/m3": {"concentration", 1, 0}, "mg/m3": {"concentration", 1000, 0},
	"%": {"ratio", 0.01, 0}, "ratio": {"ratio", 1, 0},
	"ms": {"duration", 0.001, 0}, "s": {"duration", 1, 0}, "min": {"duration", 60, 0}, "h": {"duration", 3600, 0},
}

// UnitConversion returns the Scale and Offset of a FieldMap converting
// from one unit to another of the same dimension (temperature c/f/k,
// pressure pa/hpa/kpa/mbar/bar/psi, length, speed, energy, power,
// concentration, ratio, duration). Unit names are case-insensitive.
func UnitConversion(from, to string) (scale, offset float64, err error) {
	a, ok := units[strings.ToLower(from)]
	if !ok {
		return 0, 0, fmt.Errorf("unit conversion: unknown unit %q", from)
	}
	b, ok := units[strings.ToLower(to)]
	if !ok {
		return 0, 0, fmt.Errorf("unit conversion: unknown unit %q", to)
	}
	if a.dim != b.dim {
		return 0, 0, fmt.Errorf("unit conversion: %q is a %s, %q a %s", from, a.dim, to, b.dim)
	}
	return a.scale / b.scale, (a.offset - b.offset) / b.scale, nil
}

// stateBytes is the chain's per-key state (deadband and dedup), in bytes.
func (c *chain) stateBytes() int {
	return (cap(c.dbLast)+cap(c.dbTime)+cap(c.ddTime))*8 + cap(c.ddNext)
}
