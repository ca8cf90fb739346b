// Package natsd runs the embedded nats-server that edgeplane carries inside
// its binary: JetStream with file storage under the gateway's data dir (the
// store-and-forward buffer of the sink), and optionally the server's MQTT
// and NATS client listeners so sensors can publish straight to the gateway.
//
// It owns the server's lifecycle, its accounts and users, and the
// in-process client connections. The gateway's own state lives in an
// account (GatewayAccount) only in-process connections with credentials
// generated per run can log in to (Connect); every listener client,
// configured user or anonymous, lives in SensorAccount with permissions
// that deny the JetStream API and the gateway's subjects. What sensors
// publish is read in-process through ConnectSensors. It does not know
// about streams, subjects or records: the sink declares its stream, ingest
// subscribes through the connection it is handed.
package natsd
