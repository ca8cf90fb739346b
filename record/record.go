package record

// Time is event time everywhere in edgeplane: int64 milliseconds since the
// Unix epoch, UTC (WINDOWS.md rule 1).

// Sample flags.
const (
	// FlagArrivalTime marks a sample whose event time is its arrival time
	// because the payload carried none.
	FlagArrivalTime uint8 = 1 << iota
	// FlagWatermark marks a watermark marker, not a reading: Time is the
	// pipeline watermark at the moment the marker was queued, and the
	// other fields are zero. Markers travel through the rings in band, so
	// a shard never sees a watermark ahead of a reading queued before it.
	FlagWatermark
)

// Sample is one reading of one field of one series. It is 32 bytes and holds
// no pointers, so rings of samples are never scanned by the garbage collector.
type Sample struct {
	// Series is the id interned by a SeriesTable.
	Series uint32
	// Field is the index of the value field in the source's field list.
	Field uint16
	// Source is the index of the source the sample came from in its
	// pipeline; watermarks are tracked per source.
	Source uint8
	// Flags is a set of Flag* bits.
	Flags uint8
	// Time is the event time in Unix milliseconds.
	Time int64
	// Value is the reading.
	Value float64
	// Seq is a per-source arrival sequence number. It orders samples with
	// equal event time (first/last) and lets a source hold broker
	// acknowledgements until the reading is persisted.
	Seq uint64
}

// MaxQuantiles is the number of quantiles an Aggregate carries at most.
const MaxQuantiles = 8

// Aggregate flags.
const (
	// AggFinal marks the last emission of a window: its state was purged.
	AggFinal uint8 = 1 << iota
	// AggRetracted marks a retraction (WINDOWS.md section D): the session
	// window that was emitted under the id of (Series, Field, Start) now
	// lives under another id (a merge or a late event moved its start).
	// Revision is the old id's last revision + 1, End its last end; Count
	// and the values are zero. Sinks write it as a record with the same key
	// as the aggregates and "retracted": true, or as a null-value tombstone
	// when records are keyed by aggregate id.
	AggRetracted
)

// Aggregate is the result of one window of one field of one series. It is
// pointer-free and fixed-size; quantile values are computed at firing time
// from the window's sketch and stored inline.
//
// Mean, variance and the rest are derived from the stored state by methods,
// so that two Aggregates of the same window can be merged.
type Aggregate struct {
	Series uint32
	Field  uint16
	Kind   WindowKind
	Flags  uint8
	// Revision is 0 at the first firing of a window and grows by one with
	// each re-firing caused by an accepted late event (update mode).
	Revision uint32
	// Late is the number of events that arrived after the window first
	// fired and were still accepted (allowed lateness).
	Late uint32

	// Start and End bound the window: [Start, End) in Unix ms.
	Start, End int64

	Count    uint64
	Sum      float64
	Min, Max float64

	FirstTime, LastTime int64
	First, Last         float64

	// WMean and M2 are Welford's running mean and sum of squared
	// deviations; Variance derives from them.
	WMean, M2 float64

	// Rate is the per-second increase of a monotonic counter over the
	// window, reset-aware; Increase is the total increase. Both are 0
	// when the pipeline does not compute rate.
	Rate, Increase float64

	// NQ is how many entries of Q and QV are set: QV[i] is the estimated
	// quantile Q[i] (0..1).
	NQ uint8
	Q  [MaxQuantiles]float64
	QV [MaxQuantiles]float64
}

// Mean returns Sum/Count, or 0 for an empty aggregate.
func (a *Aggregate) Mean() float64 {
	if a.Count == 0 {
		return 0
	}
	return a.Sum / float64(a.Count)
}

// Variance returns the population variance M2/Count, or 0 with fewer than
// two values.
func (a *Aggregate) Variance() float64 {
	if a.Count < 2 {
		return 0
	}
	return a.M2 / float64(a.Count)
}

// SampleVariance returns the sample variance M2/(Count-1), or 0 with fewer
// than two values.
func (a *Aggregate) SampleVariance() float64 {
	if a.Count < 2 {
		return 0
	}
	return a.M2 / float64(a.Count-1)
}

// Timestamp is the result timestamp of the window, End-1 (WINDOWS.md rule 2).
func (a *Aggregate) Timestamp() int64 { return a.End - 1 }
