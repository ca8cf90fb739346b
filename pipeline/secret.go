package pipeline

import (
	"crypto/tls"
	"fmt"
	"os"
	"strings"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/internal/tlsconf"
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
