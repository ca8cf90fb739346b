// Package operators turns samples into windowed aggregates: the stateless
// operators (dedup, filter, map, deadband), the window assigners (tumbling,
// hopping through panes, session), event-time watermarks with idle sources
// and a wall-clock fallback, allowed lateness with update or final
// emission, mergeable accumulators (count, sum, min, max, mean, first,
// last, Welford variance, counter rate, quantiles through a fixed-memory
// DDSketch-style Sketch), and the timers that fire and purge windows.
//
// It does not own I/O, rings, encoding or series interning: a Shard is fed
// batches of record.Sample by its owner goroutine and hands
// record.Aggregate values to an Emitter synchronously.
//
// Semantics follow Apache Flink's event-time model as written down in
// WINDOWS.md (rules and test vectors, reproduced by the table tests here):
// half-open, epoch-aligned windows; WM = max event time − B − 1 per source,
// minimum over non-idle sources for the pipeline; an event joins window W
// iff W.end−1+L > WM; W fires when WM >= W.end−1 and is purged when
// WM >= W.end−1+L.
//
// Choices the tables do not pin down, and why:
//
//   - Revision counts a window's earlier emissions; Late counts the events
//     accepted while the watermark was already past the window's end−1.
//     record.AggFinal marks a window's last emission: the one at purge
//     time (final mode, or update mode with L = 0, where firing and purge
//     coincide, or when one watermark step passes both), and Flush.
//   - In update mode with L > 0 the purge itself emits nothing (WINDOWS.md
//     table A); the last re-firing is the last word.
//   - Tumbling and hopping windows start before the epoch too (rule 3, as
//     in Flink; Kafka Streams clamps at 0): WINDOWS.md table B as written
//     also opens [−5,5).
//   - Merged sessions carry the sum of their parts' Late and the highest
//     revision; a session that grows after firing is a new [Start, End)
//     that supersedes its parts, as in Flink.
//   - The counter increase joins pane and session boundaries exactly; a
//     reading that arrives inside the time span already seen does not
//     change it (exact unless a counter reset hides between neighbours).
//   - Each shard sees the watermark other shards move at its next Process
//     or Advance; within a shard, every sample sees the watermark left by
//     the one before it.
//
// State is bounded and preallocated by NewShard: per-(series, field) heads
// indexed by dense ids (no maps), one pool of window/pane slots, one pool of
// sketches, an indexed min-heap of timers. Exceeding a bound refuses the
// sample and counts it (ShardStats). After NewShard, Process, Advance and
// Flush do not allocate.
//
// Concurrency: no locks. Watermarks is shared and uses atomics only; a
// Shard belongs to one goroutine (Stats excepted: atomics, published at the
// end of each call).
//
// Files: config.go (Config, modes, Validate, Release, Spec), aggset.go
// (AggSet, ParseAggregates),
// watermark.go (Watermarks), shard.go (Shard, pools, emission),
// aligned.go (tumbling and hopping), session.go, accum.go (accumulators),
// sketch.go (Sketch), sketch_sparse.go (a window's quantiles while they
// fit in a few buckets, and the move to a pooled Sketch), timers.go (timer heap), stateless.go (chain,
// UnitConversion).
package operators
