// Package sink takes the aggregates (and late events) the operators emit
// to the central Kafka cluster without losing any on the way, and without
// spending more uplink bytes than needed.
//
// Three parts, in the order data flows:
//
//   - encoding: an aggregate becomes part of a Kafka record in one of two
//     formats, chosen per pipeline (WriterOptions.Format). RecordJSON: one
//     record per aggregate, key = series key or aggregate id
//     (WriterOptions.Key), value = flat JSON (AppendJSON; see JSONRecord),
//     headers id, revision, gateway, schema; a session id's retraction
//     (record.AggRetracted) is a record with "retracted": true, or a
//     null-value tombstone when keyed by id. RecordCompact:
//     one record per block of up to MaxRecords aggregates, key = gateway
//     id, value = package compact's columnar, zstd- or s2-compressed
//     layout (≈12 bytes per aggregate on the uplink against ≈51 for json
//     with zstd batch compression); compact.WriteJSONLines turns a value
//     back into the json format's values. Records are batched into a
//     self-contained frame (frame.go), the body of one JetStream message.
//     Late events are flat JSON records of their own (late.go).
//   - buffer (buffer.go, publisher.go, writer.go, late.go): frames are
//     published to a bounded JetStream stream with file storage, each with
//     a deterministic Nats-Msg-Id so a retried publish is stored once, on
//     a subject that names its pipeline, kind and item count, which makes
//     the backlog and the drops countable exactly (see Buffer). An
//     aggregate counts as emitted only once JetStream has acknowledged its
//     frame. At max_bytes, drop_oldest removes the oldest frames (counted
//     in BufferState.Dropped…) and push_back refuses new ones: the
//     writer's Flush retries until there is room, stalling its shard.
//   - forwarder (forwarder.go, fwdstats.go, kafka.go): a durable pull
//     consumer hands each frame's records to a franz-go producer
//     (acks=all, idempotent, zstd level 1 by default, murmur2 key
//     partitioning like the Java client, small client buffer, TLS, SASL
//     PLAIN/SCRAM) and acks the JetStream message only after Kafka
//     acknowledged every record of it. A failed frame is retried in place
//     with backoff, before any newer batch is fetched, so a backlog drains
//     oldest first; in-progress acks keep JetStream from redelivering it
//     meanwhile, and after a crash the frames in flight come back after
//     ForwarderOptions.AckWait. health.go: a topic deleted or recreated
//     is purged from the client between attempts so forwarding resumes by
//     itself; failed connections and produce requests are counted as they
//     happen; Stall reports frames waiting with nothing acknowledged for
//     ForwarderOptions.StallAfter.
//
// Guarantees: no aggregate whose frame JetStream acknowledged is lost by a
// Kafka outage, a broker failover or restart, a recreated topic or a kill
// -9 of the process (tested: outage_test.go, health_test.go,
// recreate_test.go, crash_test.go); Kafka may receive duplicates, always
// with equal ids and contents. Losses happen only by policy (drop_oldest,
// max_age), and are counted.
//
// Concurrency: a Writer or LateWriter belongs to one goroutine (its
// shard); Buffer, Forwarder and their stats are safe for concurrent use.
// Buffer.mu (see Buffer) is the only lock: a leaf, held around one
// JetStream round trip.
//
// The sink does not run the NATS server (package natsd does), knows nothing
// of windows or rings, and never sees raw readings other than late events.
package sink
