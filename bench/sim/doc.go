// Package sim is the demo's sensor simulator and the smart-city sensor
// profiles (PAYLOADS.md) that it and bench's load generators share.
//
// It is the part of the benchmark the gateway binary links (edgeplane
// demo): it imports paho and the standard library only — no reporting,
// charts or fonts, which stay in package bench (cmd/edgeplane's
// TestGatewayLinksNoReporting guards that).
//
//   - profiles.go: the sensor kinds and how their fields evolve.
//   - sim.go: the steady simulator — MQTT publishes at a rate, cycling
//     through city/d<N>/<type>/s-<M>.
package sim
