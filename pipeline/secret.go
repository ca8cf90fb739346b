package pipeline

import (
	"crypto/tls"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/internal/tlsconf"
	"github.com/edgeplane/edgeplane/natsd"
)

// secret returns value, or the trimmed contents of file when set.
func secret(value, file string) (string, error) {
	if file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("cannot read secret file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// clientTLS builds a TLS client config from the config's file paths.
func clientTLS(t *config.TLS) (*tls.Config, error) {
	return tlsconf.Client(tlsconf.Files{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile,
		ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify})
}

// listenerSecrets fills what the listeners need from files: the users'
// passwords from password_file and the TLS server configuration.
func (g *Gateway) listenerSecrets(no *natsd.Options) error {
	n := &g.cfg.NATS
	no.Users = slices.Clone(no.Users)
	for i, u := range n.Auth.Users {
		if u.PasswordFile == "" {
			continue
		}
		pw, err := secret("", u.PasswordFile)
		if err != nil {
			return fmt.Errorf("nats user %s: %w", u.User, err)
		}
		if pw == "" {
			return fmt.Errorf("nats user %s: %s is empty", u.User, u.PasswordFile)
		}
		no.Users[i].Password = pw
	}
	if t := &n.TLS; t.Enabled() {
		tc, err := tlsconf.Server(t.Files())
		if err != nil {
			return fmt.Errorf("nats tls: %w", err)
		}
		no.TLS = tc
	}
	return nil
}
