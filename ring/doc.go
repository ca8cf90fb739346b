// Package ring provides the bounded, lock-free queues that sit between
// edgeplane's ingest goroutines and its operator shards: an [SPSC] ring (one
// producer, one consumer) and an [MPSC] ring (many producers, one consumer).
//
// What it owns:
//
//   - The rings themselves, generic over a fixed-size, pointer-free record
//     type T (checked at construction, see [ErrPointers]). Capacity is a power
//     of two; producer and consumer indices live on separate cache lines
//     (padded with cpu.CacheLinePad, 128 bytes on arm64).
//   - Producer lanes on MPSC ([MPSC.NewProducer], [Producer],
//     [Options.Lanes]): a goroutine that pushes a lot takes a handle that
//     owns a single-producer sub-ring, so its pushes cost one plain slot
//     write and one atomic store, with no CAS and no cache line shared with
//     other producers. Push and PushBatch on the ring itself use the shared
//     lane, as do handles taken when all lanes are in use. The consumer
//     drains all lanes fairly and keeps one order between them: a record
//     pushed to a producer lane before a push to the shared lane started is
//     drained first (see [MPSC], "Order"), which is how the pipeline keeps
//     watermark markers behind the readings they cover.
//   - Batch APIs: producers reserve and commit runs of slots
//     ([SPSC.Reserve]/[SPSC.Commit], PushBatch on both rings: one claim and
//     one publishing store per run); the consumer drains up to len(dst)
//     records in one call (Drain) and releases them in one index store
//     (except MPSC under DropOldest, which releases per slot; see [MPSC]).
//   - The consumer wait strategy for small boards: a bounded spin
//     ([Options.SpinBudget]), then a few runtime.Gosched yields, then parking
//     on a capacity-1 notify channel with zero CPU while idle. Producers only
//     touch the channel when the consumer has announced that it is parked, so
//     the steady state costs no syscall and no channel operation per record.
//     Once records are visible, Wait lingers briefly (bounded by
//     [Options.BatchLinger], default 5µs, until [Options.BatchTarget]
//     records are ready) so that Drain takes batches even when producers
//     push record by record: per-record draining would make every record pay
//     cache-line transfers between the cores.
//   - Backpressure policies per ring ([Block], [DropNewest], [DropOldest]),
//     each drop counted ([MPSC.Dropped], [SPSC.Dropped]) and optionally
//     reported record by record to a drop hook (SetDropHook). A producer
//     blocked under Block spins and yields while any slot frees up, but once
//     parked it is woken only when half the ring is free, so a producer that
//     outruns the consumer pays one park/unpark per half ring rather than
//     per drained batch.
//   - Close/drain semantics: after Close, producers get [ErrClosed]; the
//     consumer's Wait keeps returning nil until every record whose Push or
//     Commit returned nil has been drained, and only then returns ErrClosed.
//     No record is lost or delivered twice.
//
// What it does not own: it knows nothing of samples, series, sockets or
// brokers (the record package defines what flows through it), and it does not
// export metrics; the wiring package reads Dropped/Len/Cap and publishes them
// on /metrics.
//
// # Concurrency contracts
//
// MPSC: Push, PushBatch, NewProducer, Dropped, Len, Cap and Close may be
// called from any number of goroutines. Drain and Wait are consumer methods:
// exactly one goroutine at a time may call them. A Producer handle (Push,
// PushBatch, Release) is used by one goroutine at a time; handing it to
// another goroutine needs a happens-before edge (a channel, a mutex).
//
// SPSC: Push, PushBatch, Reserve and Commit are producer methods (one
// goroutine at a time); Drain and Wait are consumer methods (one goroutine at
// a time). Dropped, Len, Cap and Close may be called from anywhere.
//
// # Memory ordering
//
// All index and sequence words are sync/atomic values. Go's atomics are
// sequentially consistent, and the memory model gives a happens-before edge
// from an atomic store to every atomic load that observes it. The rings rely on
// exactly two such edges: a producer writes a slot and then publishes it with
// an atomic store (tail or the slot's sequence word); the consumer loads that
// word and only then reads the slot. Symmetrically the consumer reads a slot
// and then releases it with an atomic store, and a producer only overwrites a
// slot after loading that release. The parking handshake relies on sequential
// consistency (store-then-load on both sides, Dekker style) so that a
// producer publishing a record and a consumer going to sleep can never both
// miss each other. A producer lane uses the same handshake against Close
// instead of a CAS on its publishing store: the owner loads the closed flag
// after publishing, and the consumer declares a lane closed only after
// loading that flag; the rare push that sees Close after publishing settles
// with the consumer through one CAS on the lane (see lane). The lanes' order
// guarantee rests on the consumer loading the shared lane's sequence words
// before the lanes' tails.
package ring
