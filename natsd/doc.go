// Package natsd runs the embedded nats-server that edgeplane carries inside
// its binary: JetStream with file storage under the gateway's data dir (the
// store-and-forward buffer of the sink), and optionally the server's MQTT
// listener so sensors can publish straight to the gateway.
//
// It owns the server's lifecycle and the in-process client connection. It
// does not know about streams, subjects or records: the sink declares its
// stream, ingest subscribes through the connection it is handed.
package natsd
