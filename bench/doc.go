// Package bench holds edgeplane's load generators: sensor simulators with
// smart-city profiles (PAYLOADS.md) that publish readings over MQTT with
// paho. cmd/edgebench and the demo are thin front ends over it.
//
// It imports no stage of the dataplane: it talks to a gateway only over the
// wire (MQTT in, Kafka out), as a real device and a real consumer would.
package bench
