// Package tlsconf builds TLS client and server configurations from file
// paths, the way every TLS option in edgeplane's config is written (Kafka,
// MQTT, the embedded listeners).
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// Files names a TLS client's material.
type Files struct {
	CAFile             string
	CertFile, KeyFile  string
	ServerName         string
	InsecureSkipVerify bool
}

// Client returns a TLS 1.2+ client config: the CA file's certificates as
// roots (the system's when empty) and the client certificate when set.
func Client(f Files) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.ServerName, InsecureSkipVerify: f.InsecureSkipVerify} //nolint:gosec // opt-in
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca %s: no certificates", f.CAFile)
		}
		tc.RootCAs = pool
	}
	if f.CertFile != "" || f.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls client cert: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// ServerFiles names a TLS server's material.
type ServerFiles struct {
	CertFile, KeyFile string
	// CAFile holds the CAs client certificates are checked against.
	CAFile string
	// VerifyClients requires a client certificate signed by one of them.
	VerifyClients bool
}

// Server returns a TLS 1.2+ server config with the certificate, and with
// VerifyClients the client CAs and tls.RequireAndVerifyClientCert.
func Server(f ServerFiles) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls server cert: %w", err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca %s: no certificates", f.CAFile)
		}
		tc.ClientCAs = pool
	}
	if f.VerifyClients {
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}
