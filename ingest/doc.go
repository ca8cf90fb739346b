// Package ingest takes sensor messages in over the network and turns them
// into readings with the decode package.
//
// It owns the transports:
//
//   - mqtt.go, mqtt_conn.go: MQTTSource, a paho.mqtt.golang subscriber of
//     one or more connections (shared subscriptions or split filters), with
//     TLS, persistent sessions, reconnect with backoff and resubscribe, and
//     a watchdog that breaks connections on which nothing arrives;
//   - holdack.go: held acknowledgements — QoS 1 messages acknowledged to the
//     broker, in arrival order, only once AckThrough says their readings are
//     persisted;
//   - natssrc.go: NATSSource, the embedded-broker mode: sensors publish to
//     the embedded NATS server's MQTT listener and the messages are taken in
//     process from NATS subjects, mapped back to MQTT topics;
//   - ws.go, ws_frame.go: WSSource, a WebSocket endpoint with bearer-token
//     auth, TLS, frame size, rate and connection limits, reading frames into
//     a per-connection buffer without allocating;
//   - source.go: the Source interface, SourceStats, the receiver shared by
//     all sources (decode, account, deliver, dead-letter) and rate-limited
//     reject logs;
//   - ws_frame_fuzz_test.go: the frame reader's fuzz target.
//
// Payload decoding (formats, the flat fast path, topic patterns) lives in
// package decode, which does no I/O.
//
// Every message ends in exactly one account: each of its records accepted
// (its readings handed to the caller's Deliver function with the message's
// sequence number) or rejected with a decode.Reason — counted, logged at
// most once per interval and optionally dead-lettered — or, with held acks, abandoned
// for the broker to redeliver. See SourceStats.
//
// Concurrency: each connection (MQTT), subscription (NATS) or client
// (WebSocket) has one receive goroutine that owns its receiver; Deliver is
// called from all of them concurrently. Lock order: ackQueue.ackMu before
// ackQueue.mu; every other lock (MQTTSource.mu, NATSSource.mu, rejectLog.mu)
// is a leaf, and no lock is held while calling Deliver or DeadLetter.
//
// It does not intern series, shard, push into rings, or publish dead
// letters: the wiring package does that in the Deliver and DeadLetter
// functions it passes in, so ingest depends only on its libraries and the
// decode and record packages.
package ingest
