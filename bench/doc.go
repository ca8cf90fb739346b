// Package bench is edgeplane's load generator and accounting benchmark,
// the library behind cmd/edgebench. It answers,
// on the device itself: how many readings per second does a gateway hold,
// at what CPU and memory, with what latency, and is every reading counted?
//
// Files, one concept each:
//
//   - sensors.go: the series of a run, from the sensor profiles of
//     bench/sim (PAYLOADS.md); payload encoders for json, senml and ttn.
//   - generator.go: per-worker message production with intended faults
//     (out of order, late, duplicate, malformed) and event-time skew.
//   - pacer.go: the precise rate pacer (count from elapsed time, bursts).
//   - publish.go, publish_mqtt.go, publish_ws.go: the MQTT (paho, N
//     connections, QoS 0/1) and WebSocket (N connections, 1..k readings per
//     frame, JSON or NDJSON, bearer token) publishers.
//   - ledger.go: what was sent, per series and event-time window.
//   - collect.go: the Kafka consumer (franz-go) of the aggregates: highest
//     revision per aggregate, first emission time.
//   - counters.go: the gateway's counters (Snapshot in-process, /metrics
//     otherwise); account.go: the reconciliation and latency figures.
//   - resources.go, env.go: CPU, RSS, Go runtime and host figures.
//   - stack.go, gwconfig.go: the system under test — embedded in-process
//     (NATS with its MQTT listener, kfake, pipeline.Gateway), a subprocess
//     built from ./cmd/edgeplane, or external addresses — and the gateway
//     config a scenario implies (MQTT sources, or for a ws scenario one
//     WebSocket source with a bearer token, sized for its connections);
//     kfake's Produce control for outages.
//   - scenario.go: scenario files and the built-ins (smoke, standard,
//     outage, ws-fanin); run.go: phases, steps, settling, judging;
//     baseline.go: the bare paho subscriber ceiling.
//   - report.go, report_md.go, chart.go, progress.go: JSON and Markdown
//     reports, the SVG chart (gonum/plot), the live progress line.
//
// The generators and the accounting talk to a gateway only over the wire
// (MQTT or WebSocket in, Kafka and /metrics out), as devices and a central
// consumer would. stack.go alone imports config and pipeline, to start
// edgeplane in-process for the embedded target and read
// pipeline.Gateway.Snapshot.
//
// The demo's simulator and the profiles live in bench/sim, which the
// gateway binary links; this package (reports, the gonum/plot chart and
// its fonts) is linked by cmd/edgebench only.
//
// Concurrency: a generator, its ledger and its pacer belong to one
// publishing goroutine; ledgers are merged after the workers stop. The
// Collector's map is guarded by its mutex; its counters and PubStats are
// atomics read by the progress display. No code path holds two locks.
package bench
