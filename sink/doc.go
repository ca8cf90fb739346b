// Package sink takes the aggregates the operators emit to the central Kafka
// cluster without losing any on the way.
//
// Three parts, in the order data flows:
//
//   - encoding (json.go, id.go, frame.go): an aggregate becomes a Kafka
//     record — key = series key, value = flat JSON, headers = aggregate id,
//     revision, gateway id, schema version — and records are batched into a
//     self-contained frame, the body of one JetStream message;
//   - buffer (buffer.go, writer.go): frames are published to a bounded
//     JetStream stream with file storage, each with a deterministic
//     Nats-Msg-Id so a retried publish is stored once. An aggregate counts as
//     emitted only once JetStream has acknowledged its frame;
//   - forwarder (forwarder.go): a durable pull consumer hands each frame's
//     records to a franz-go producer (acks=all, idempotent, zstd) and acks
//     the JetStream message only after Kafka acknowledged every record of it;
//     on failure the message is nak'ed with backoff and redelivered.
//
// The sink does not run the NATS server (package natsd does), knows nothing
// of windows or rings, and never sees raw readings.
package sink
