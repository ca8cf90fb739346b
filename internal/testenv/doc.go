// Package testenv starts the real components edgeplane's tests run against —
// an embedded nats-server with JetStream on a temp dir (and its MQTT
// listener), an in-process kfake Kafka cluster — and offers a polling
// helper in place of sleeps, Kafka consumers (Consume, ConsumeUntil),
// realistic aggregates for sink tests and benchmarks (CityAggregates),
// RaceEnabled for allocation budgets, /proc and heap figures (ProcStatusBytes, HeapObjectBytes), and a small tmpfs to fill (Tmpfs,
// FillDisk) for the full-disk tests. It is imported by tests only.
package testenv
