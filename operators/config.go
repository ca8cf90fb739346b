package operators

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/edgeplane/edgeplane/record"
)

// EmitMode says when a window's result is emitted.
type EmitMode uint8

// Emission modes.
const (
	// Update emits a window when the watermark passes its end, then again
	// with the cumulative result (Revision+1) for every accepted late event.
	// This is the default.
	Update EmitMode = iota
	// Final emits a window once, when its state is purged (the watermark
	// passes end-1+AllowedLateness), like Kafka Streams' emit-on-close.
	Final
)

var emitModeNames = [...]string{"update", "final"}

func (m EmitMode) String() string { return record.EnumName(m, emitModeNames[:], "EmitMode") }

// EnumValues lists the names UnmarshalText accepts.
func (EmitMode) EnumValues() []string { return emitModeNames[:] }

// MarshalText returns the mode's name.
func (m EmitMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses update or final.
func (m *EmitMode) UnmarshalText(b []byte) error {
	return record.UnmarshalEnum(m, "emit mode", b, emitModeNames[:])
}

// TimeMode selects what time windows are assigned by.
type TimeMode uint8

// Time modes.
const (
	// EventTime uses record.Sample.Time and watermarks. This is the default.
	EventTime TimeMode = iota
	// ProcessingTime replaces each sample's time with the wall clock passed
	// to Process; the watermark is then nowMs-1, so nothing is ever late.
	ProcessingTime
)

var timeModeNames = [...]string{"event", "processing"}

func (m TimeMode) String() string { return record.EnumName(m, timeModeNames[:], "TimeMode") }

// EnumValues lists the names UnmarshalText accepts.
func (TimeMode) EnumValues() []string { return timeModeNames[:] }

// MarshalText returns the mode's name.
func (m TimeMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses event or processing.
func (m *TimeMode) UnmarshalText(b []byte) error {
	return record.UnmarshalEnum(m, "time mode", b, timeModeNames[:])
}

// WatermarkScope says whose event time closes a window.
type WatermarkScope uint8

// Watermark scopes (WINDOWS.md section D). The zero value is
// PipelineScope, so a Config written before scopes existed keeps its
// meaning; the YAML default is series (config.DefaultWatermarkScope).
const (
	// PipelineScope keeps one watermark per pipeline: per-source maxima,
	// the minimum over sources that are not idle (rule 5).
	PipelineScope WatermarkScope = iota
	// SeriesScope gives each series its own watermark WM_k = max_k − B − 1
	// (with the wall-clock fallback of rule 5 once the series is idle): a
	// fast or replaying clock makes no other series' readings late.
	SeriesScope
)

var watermarkScopeNames = [...]string{"pipeline", "series"}

func (m WatermarkScope) String() string {
	return record.EnumName(m, watermarkScopeNames[:], "WatermarkScope")
}

// EnumValues lists the names UnmarshalText accepts.
func (WatermarkScope) EnumValues() []string { return watermarkScopeNames[:] }

// MarshalText returns the scope's name.
func (m WatermarkScope) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses series or pipeline.
func (m *WatermarkScope) UnmarshalText(b []byte) error {
	return record.UnmarshalEnum(m, "watermark scope", b, watermarkScopeNames[:])
}

// AllFields in a Filter, FieldMap or Deadband applies it to every field.
const AllFields = -1

// FilterOp is the test of a Filter.
type FilterOp uint8

// Filter operations.
const (
	// InRange keeps Min <= v <= Max (NaN is dropped).
	InRange FilterOp = iota
	// Equal keeps v == Min.
	Equal
	// NotEqual keeps v != Min.
	NotEqual
)

// Filter drops samples of Field whose value fails Op. Several filters on
// one field must all pass.
type Filter struct {
	Field    int // field id, or AllFields
	Op       FilterOp
	Min, Max float64
}

// FieldMap rewrites the value of Field as v*Scale + Offset, after filtering.
// UnitConversion gives Scale and Offset for common unit pairs. Several maps
// on one field compose in order.
type FieldMap struct {
	Field         int // field id, or AllFields
	Scale, Offset float64
}

// Deadband suppresses a reading of Field whose value differs from the last
// reading passed for the same (series, field) by less than Threshold
// (absolute). MaxGap > 0 passes a reading anyway when the last one passed is
// MaxGap ms older, so windows of a flat signal are not left empty.
type Deadband struct {
	Field     int // field id, or AllFields
	Threshold float64
	MaxGap    int64
}

// Config configures the operators of one pipeline. The zero value of an
// option selects its documented default; Validate reports every problem of
// the defaulted configuration at once.
type Config struct {
	Kind record.WindowKind
	// Size is the window length in ms (tumbling, hopping). Advance is the
	// hop of hopping windows (0 < Advance <= Size). Gap is the session gap.
	// Offset shifts the epoch alignment (-slide < Offset < slide).
	Size, Advance, Gap, Offset int64
	// OutOfOrder is the bound B in ms: a source's watermark is its
	// maximum event time - B - 1.
	OutOfOrder int64
	// AllowedLateness is L in ms: a window keeps its state until the
	// watermark passes end-1+L, and accepts late events until then.
	AllowedLateness int64
	Mode            EmitMode
	TimeMode        TimeMode
	// Watermark is the scope of event-time progress: PipelineScope (the
	// zero value) or SeriesScope. It matters only in EventTime mode.
	Watermark WatermarkScope
	// MaxFuture, when > 0, refuses (and counts) samples whose event time
	// is more than MaxFuture ms ahead of the wall clock passed to Process:
	// one reading from a sensor with a wild clock would otherwise drive the
	// watermark years ahead and make every later reading late. Samples
	// outside ±2⁶² ms are always refused, so window arithmetic cannot
	// overflow. Default 0 (off).
	MaxFuture int64
	// IdleTimeout in ms marks a source (PipelineScope) or a series
	// (SeriesScope) idle after this long without data, by the wall clock
	// passed to Process/Advance; an idle series' watermark then follows the
	// wall clock (rule 5). 0: sources never idle; SeriesScope needs it > 0,
	// or a series that stops sending would never close its last window.
	IdleTimeout int64
	// Aggregates to compute; default DefaultAggregates.
	Aggregates AggSet
	// Quantiles to estimate (at most record.MaxQuantiles), each in [0,1].
	// A non-empty list implies the Quantiles aggregate.
	Quantiles []float64
	// SketchAlpha is the relative accuracy of quantiles; default 0.01.
	SketchAlpha float64
	// MaxSeries bounds series ids: 0..MaxSeries-1 (record.SeriesTable).
	MaxSeries int
	// Fields bounds field ids: 0..Fields-1. Default 1.
	Fields int
	// MaxOpenWindows bounds the open state units per (series, field):
	// windows for tumbling and session, panes for hopping. Default 16 for
	// tumbling and session; for hopping max(16, (Size+OutOfOrder+
	// AllowedLateness)/pane + 2).
	MaxOpenWindows int
	// Sources is the number of sources (record.Sample.Source). Default 1.
	Sources int

	// Shards is how many shards share MaxSeries (series % Shards); used
	// only to size each shard's state pool. Default 1.
	Shards int
	// StateBudget is the number of window (or pane) slots each shard
	// preallocates. Default: MaxSeries/Shards × Fields × the slots a key
	// needs in steady state (1 + ceil((OutOfOrder+AllowedLateness)/slide),
	// at most MaxOpenWindows), plus 1/8 slack.
	StateBudget int
	// SketchBudget is the number of dense quantile sketches each shard
	// preallocates when quantiles are configured, for the windows whose
	// values span more buckets than their slot's sparseSketch holds
	// (sketch_sparse.go; a window of a few readings never needs one).
	// About 8 KiB each, touched only when first used. A window that
	// finds the pool empty has no quantiles (counted). Default:
	// StateBudget, capped at MaxSketchMemory/Shards bytes.
	SketchBudget int
	// MaxSketchMemory caps the default SketchBudget of the pipeline's
	// shards together; default 32 MiB (about 4000 sketches): validation
	// charges it whole against memory_limit. Raise it for quantiles over
	// wide-spread values in more windows at once.
	MaxSketchMemory int

	// InBandWatermarks makes the caller the watermark's source: shards do
	// not derive it from the samples they see nor read it from the shared
	// Watermarks; they advance only on marker samples (record.FlagWatermark,
	// Time = the new watermark) that the caller queues into every shard's
	// stream after the readings whose event times the marker reflects.
	// With several shards fed by queues this is what keeps a shard that runs
	// ahead from declaring late the readings still queued for another
	// shard. The caller observes readings into a Watermarks and computes
	// markers with Current, which includes the idle fallback.
	InBandWatermarks bool

	// Stateless chain, applied per sample before windowing in this order:
	// dedup, filters, maps, deadband.
	Filters   []Filter
	Maps      []FieldMap
	Deadbands []Deadband
	// Dedup drops a sample whose (series, field, time) equals one of the
	// last DedupDepth distinct times seen for that (series, field).
	Dedup bool
}

// DedupDepth is how many recent event times per (series, field) Dedup
// remembers: QoS 1 redeliveries repeat recent readings, and a bounded
// window keeps the state fixed-size.
const DedupDepth = 4

// Event times outside ±maxTime are refused, and spans (size, lateness, …)
// above maxSpan are invalid, so that t + size + lateness + B never
// overflows int64.
const (
	maxTime = 1 << 62
	maxSpan = 1 << 52
)

// maxPanesPerWindow bounds Size/gcd(Size, Advance): each firing merges that
// many panes.
const maxPanesPerWindow = 4096

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// seriesScope reports whether each series keeps its own watermark: event
// time in SeriesScope (processing time has one clock for everything).
func (c *Config) seriesScope() bool { return c.Watermark == SeriesScope && c.TimeMode == EventTime }

// SeriesScope reports whether the configuration gives each series its own
// watermark (SeriesScope in event time).
func (c *Config) SeriesScope() bool { return c.seriesScope() }

// slide is the alignment step of window starts (tumbling: Size, hopping:
// Advance) or the session gap.
func (c *Config) slide() int64 {
	switch c.Kind {
	case record.Hopping:
		return c.Advance
	case record.Session:
		return c.Gap
	}
	return c.Size
}

// withDefaults returns a copy of c with defaults applied.
func (c *Config) withDefaults() Config {
	d := *c
	d.Quantiles = append([]float64(nil), c.Quantiles...)
	if d.Kind == record.Tumbling {
		d.Advance = d.Size
	}
	if d.Aggregates == 0 {
		d.Aggregates = DefaultAggregates
	}
	if len(d.Quantiles) > 0 {
		d.Aggregates |= Quantiles
	}
	d.Aggregates |= Count
	if d.SketchAlpha == 0 {
		d.SketchAlpha = 0.01
	}
	if d.Fields == 0 {
		d.Fields = 1
	}
	if d.Sources == 0 {
		d.Sources = 1
	}
	if d.Shards <= 0 {
		d.Shards = 1
	}
	if d.TimeMode == ProcessingTime {
		d.OutOfOrder = 0
	}
	if d.MaxOpenWindows == 0 {
		d.MaxOpenWindows = 16
		if d.Kind == record.Hopping && d.Size > 0 && d.Advance > 0 {
			p := gcd(d.Size, d.Advance)
			if n := (d.Size+d.OutOfOrder+d.AllowedLateness)/p + 2; n > 16 && n < 1<<16 {
				d.MaxOpenWindows = int(n)
			}
		}
	}
	if d.StateBudget == 0 && d.MaxSeries > 0 && d.slide() > 0 {
		per := int64(1) + (d.OutOfOrder+d.AllowedLateness+d.slide()-1)/d.slide()
		if d.Kind == record.Hopping {
			p := gcd(d.Size, d.Advance)
			per = (d.Size+d.OutOfOrder+d.AllowedLateness+p-1)/p + 1
		}
		if per > int64(d.MaxOpenWindows) {
			per = int64(d.MaxOpenWindows)
		}
		keys := (int64(d.MaxSeries) + int64(d.Shards) - 1) / int64(d.Shards) * int64(d.Fields)
		n := keys * per
		n += n/8 + 64
		if n > math.MaxInt32 {
			n = math.MaxInt32
		}
		d.StateBudget = int(n)
	}
	if d.MaxSketchMemory == 0 {
		d.MaxSketchMemory = 32 << 20
	}
	if d.SketchBudget == 0 && d.Aggregates&Quantiles != 0 {
		d.SketchBudget = d.StateBudget
		if lim := d.MaxSketchMemory / d.Shards / sketchBytes; d.SketchBudget > lim {
			d.SketchBudget = lim
		}
	}
	return d
}

// Validate reports every problem of the configuration (after defaults)
// as record.OptionErrors, or nil. Each problem's Option names the field in
// snake case ("size", "out_of_order", "filters[1].field") so that a
// caller can point at where the value came from.
func (c *Config) Validate() error {
	d := c.withDefaults()
	var ps record.OptionErrors
	bad := func(opt, format string, args ...any) { ps.Add(opt, fmt.Sprintf(format, args...)) }
	switch d.Kind {
	case record.Tumbling, record.Hopping:
		if d.Size <= 0 {
			bad("size", "%s, want > 0", ms(d.Size))
		}
		if d.Kind == record.Hopping {
			if d.Advance <= 0 || (d.Size > 0 && d.Advance > d.Size) {
				bad("advance", "%s, want 0 < advance <= size (%s)", ms(d.Advance), ms(d.Size))
			} else if d.Size > 0 && d.Size/gcd(d.Size, d.Advance) > maxPanesPerWindow {
				p := gcd(d.Size, d.Advance)
				bad("advance", "size %s and advance %s make panes of gcd = %s, %d panes per window, want at most %d (choose an advance that divides the size more coarsely)",
					ms(d.Size), ms(d.Advance), ms(p), d.Size/p, maxPanesPerWindow)
			}
		}
		if s := d.slide(); s > 0 && (d.Offset <= -s || d.Offset >= s) {
			what := "size"
			if d.Kind == record.Hopping {
				what = "advance"
			}
			bad("offset", "%s, want -%s < offset < %s (the %s)", ms(d.Offset), ms(s), ms(s), what)
		}
	case record.Session:
		if d.Gap <= 0 {
			bad("gap", "%s, want > 0", ms(d.Gap))
		}
	default:
		bad("kind", "%d, want tumbling, hopping or session", d.Kind)
	}
	if d.OutOfOrder < 0 {
		bad("out_of_order", "%s, want >= 0", ms(d.OutOfOrder))
	}
	if d.AllowedLateness < 0 {
		bad("allowed_lateness", "%s, want >= 0", ms(d.AllowedLateness))
	}
	if d.Mode > Final {
		bad("mode", "%d, want update or final", d.Mode)
	}
	if d.TimeMode > ProcessingTime {
		bad("time_mode", "%d, want event or processing", d.TimeMode)
	}
	if d.MaxFuture < 0 {
		bad("max_future", "%s, want >= 0", ms(d.MaxFuture))
	}
	for _, v := range []struct {
		name string
		ms   int64
	}{{"size", d.Size}, {"advance", d.Advance}, {"gap", d.Gap}, {"out_of_order", d.OutOfOrder}, {"allowed_lateness", d.AllowedLateness}, {"idle_timeout", d.IdleTimeout}} {
		if v.ms > maxSpan {
			bad(v.name, "%s, want at most %s (about 142 years)", ms(v.ms), ms(maxSpan))
		}
	}
	if d.IdleTimeout < 0 {
		bad("idle_timeout", "%s, want >= 0", ms(d.IdleTimeout))
	}
	if d.Watermark > SeriesScope {
		bad("watermark", "%d, want series or pipeline", d.Watermark)
	}
	if d.seriesScope() && d.IdleTimeout == 0 {
		bad("idle_timeout", "0s, want > 0 with watermark: series: a series that stops sending would never close its last window (set a timeout, or watermark: pipeline)")
	}
	if d.seriesScope() && d.InBandWatermarks {
		bad("watermark", "series scope takes no in-band watermark markers: each shard owns its series' time")
	}
	if d.Aggregates >= aggEnd {
		bad("aggregates", "unknown bits %#x", uint32(d.Aggregates&^(aggEnd-1)))
	}
	if d.Aggregates&Quantiles != 0 && len(d.Quantiles) == 0 {
		bad("quantiles", "the quantiles aggregate needs at least one quantile")
	}
	if len(d.Quantiles) > record.MaxQuantiles {
		bad("quantiles", "%d, want at most %d", len(d.Quantiles), record.MaxQuantiles)
	}
	for _, q := range d.Quantiles {
		if !(q >= 0 && q <= 1) {
			bad("quantiles", "%v outside [0, 1]", q)
		}
	}
	if !(d.SketchAlpha >= MinSketchAlpha && d.SketchAlpha < 0.5) {
		bad("sketch_alpha", "%v, want %v <= alpha < 0.5", d.SketchAlpha, MinSketchAlpha)
	}
	if d.MaxSeries <= 0 || d.MaxSeries > MaxSeriesLimit {
		bad("max_series", "%d, want 1..%d", d.MaxSeries, MaxSeriesLimit)
	}
	if d.Fields <= 0 || d.Fields > 1<<16 {
		bad("fields", "%d, want 1..65536", d.Fields)
	}
	if d.MaxSeries > 0 && d.Fields > 0 && int64(d.MaxSeries)*int64(d.Fields) > math.MaxInt32 {
		bad("fields", "max_series × fields = %d, want <= %d", int64(d.MaxSeries)*int64(d.Fields), math.MaxInt32)
	}
	if d.MaxOpenWindows <= 0 || d.MaxOpenWindows >= 1<<16 {
		bad("max_open_windows", "%d, want 1..65535", d.MaxOpenWindows)
	}
	if d.Sources <= 0 || d.Sources > 256 {
		bad("sources", "%d, want 1..256", d.Sources)
	}
	if d.StateBudget < 0 || d.StateBudget > math.MaxInt32 {
		bad("state_budget", "%d, want 0..%d", d.StateBudget, math.MaxInt32)
	}
	if d.SketchBudget < 0 || d.SketchBudget > math.MaxInt32 {
		bad("sketch_budget", "%d, want 0..%d", d.SketchBudget, math.MaxInt32)
	}
	field := func(opt string, i, f int) {
		if f != AllFields && (f < 0 || f >= d.Fields) {
			bad(fmt.Sprintf("%s[%d].field", opt, i), "field id %d, want 0..%d or AllFields", f, d.Fields-1)
		}
	}
	for i, f := range d.Filters {
		field("filters", i, f.Field)
		if f.Op > NotEqual {
			bad(fmt.Sprintf("filters[%d].op", i), "%d, want range, eq or ne", f.Op)
		}
		if f.Op == InRange && !(f.Min <= f.Max) {
			bad(fmt.Sprintf("filters[%d].min", i), "min %v is above max %v", f.Min, f.Max)
		}
	}
	for i, m := range d.Maps {
		field("maps", i, m.Field)
		if math.IsNaN(m.Scale) || math.IsInf(m.Scale, 0) || math.IsNaN(m.Offset) || math.IsInf(m.Offset, 0) {
			bad(fmt.Sprintf("maps[%d]", i), "scale %v, offset %v, want finite", m.Scale, m.Offset)
		}
	}
	for i, db := range d.Deadbands {
		field("deadbands", i, db.Field)
		if !(db.Threshold > 0) {
			bad(fmt.Sprintf("deadbands[%d].threshold", i), "%v, want > 0", db.Threshold)
		}
		if db.MaxGap < 0 {
			bad(fmt.Sprintf("deadbands[%d].max_gap", i), "%s, want >= 0", ms(db.MaxGap))
		}
	}
	return ps.Err()
}

// MinSketchAlpha bounds Config.SketchAlpha from below: a finer accuracy
// would overflow the sketch's bucket index, and at 1e-4 its 2048 buckets
// already cover only a ratio of about 1.5 between a window's values.
const MinSketchAlpha = 1e-4

// MaxSeriesLimit bounds Config.MaxSeries.
const MaxSeriesLimit = 10_000_000

// ms formats a span of milliseconds as a duration ("5s", "1h0m0s").
func ms(v int64) string {
	if v > math.MaxInt64/int64(time.Millisecond) || v < math.MinInt64/int64(time.Millisecond) {
		return strconv.FormatInt(v, 10) + "ms"
	}
	return (time.Duration(v) * time.Millisecond).String()
}

// Release returns the watermark at which an event at t is inside every
// window it belongs to and that window has been emitted for good enough
// to acknowledge its input: the end − 1 of its last window (the one
// starting latest), plus AllowedLateness in Final mode, where a window
// is emitted only when purged. Session windows have no such bound
// (their end moves with later events): Release is defined for tumbling
// and hopping windows only. Held acknowledgements use it.
func (c *Config) Release(t int64) int64 {
	d := c.withDefaults()
	r := t - floorMod(t-d.Offset, d.slide()) + d.Size - 1
	if d.Mode == Final {
		r += d.AllowedLateness
	}
	return r
}

// Spec identifies what defines the windows of c — kind, size, advance,
// gap, offset, lateness, emit mode and, when it is series, the watermark
// scope — as a short stable string: state persisted for one layout (held
// acks' stored watermark) is not read back for another, and aggregate ids
// hash it, so a changed window definition never reuses an id for other
// content. (The pipeline scope adds nothing, so strings written before
// scopes existed stay valid.)
func (c *Config) Spec() string {
	d := c.withDefaults()
	s := fmt.Sprintf("v1 %s size=%d advance=%d gap=%d offset=%d lateness=%d emit=%s",
		d.Kind, d.Size, d.Advance, d.Gap, d.Offset, d.AllowedLateness, d.Mode)
	if d.seriesScope() {
		s += " watermark=series"
	}
	return s
}
