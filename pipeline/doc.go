// Package pipeline wires edgeplane's stages into a running gateway: it
// turns a validated config.Config into sources (ingest), rings (ring),
// operator shards (operators) and the sink's writers and forwarder (sink),
// connects them in that one direction, and owns their lifecycle and their
// metrics.
//
// Data flow, one way only:
//
//	ingest source ─Deliver→ intern series, shard = series % shards ─→ ring
//	ring ─→ shard goroutine: operators.Shard.Process ─Emit→ sink.Writer ─→ JetStream
//	JetStream ─→ sink.Forwarder ─→ Kafka
//
// The package does no I/O of its own beyond what the stages do; Handler
// serves metrics and health, and the caller decides where to listen.
// /metrics is Prometheus text format with one HELP (with a description)
// and one TYPE line per family and the family's samples together after
// them, which `promtool check metrics` accepts (exposition.go); the Go
// runtime and process families come from VictoriaMetrics/metrics, whose
// HELP lines are empty, and get their help text from runtime_metrics.go.
package pipeline
