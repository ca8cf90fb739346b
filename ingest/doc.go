// Package ingest takes sensor messages in and turns them into readings.
//
// It owns the sources — an MQTT subscriber on paho.mqtt.golang (mqtt.go)
// and, later, a WebSocket endpoint — and the payload decoders (decode*.go):
// generic JSON with configured paths, SenML, The Things Stack uplinks and
// Zigbee2MQTT, plus topic patterns (topic.go). Every message ends in exactly
// one account: accepted with its readings handed to the caller's Deliver
// function, or rejected with a Reason, counted and logged at most once per
// interval.
//
// It does not intern series, shard, or push into rings: the wiring package
// does that in the Deliver function it passes in, so ingest depends only on
// its libraries and the record package.
package ingest
