package config

import (
	"github.com/goccy/go-yaml"
)

// Redacted stands for a secret in Effective's output.
const Redacted = "<redacted>"

// Effective returns the configuration as YAML with every default filled
// in — what `edgeplane config` prints. Secrets (passwords, tokens) are
// replaced by Redacted. Loading the output gives the same configuration,
// secrets aside.
func (c *Config) Effective() ([]byte, error) {
	d := *c
	d.Sources = append([]Source(nil), c.Sources...)
	redact := func(s *string) {
		if *s != "" {
			*s = Redacted
		}
	}
	redact(&d.Kafka.SASL.Password)
	redact(&d.Gateway.HTTPToken)
	d.NATS.Auth.Users = append([]ListenerUser(nil), c.NATS.Auth.Users...)
	for i := range d.NATS.Auth.Users {
		redact(&d.NATS.Auth.Users[i].Password)
		redact(&d.NATS.Auth.Users[i].PasswordHash)
	}
	for i := range d.Sources {
		redact(&d.Sources[i].MQTT.Password)
		redact(&d.Sources[i].WebSocket.Token)
	}
	return yaml.MarshalWithOptions(&d, yaml.IndentSequence(true))
}
