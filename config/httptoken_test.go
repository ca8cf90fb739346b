package config_test

import (
	"strings"
	"testing"

	"github.com/edgeplane/edgeplane/config"
)

// TestHTTPTokenRequiredOffLoopback: a non-loopback http_listen needs
// gateway.http_token (or http_token_file); loopback does not; the token is
// redacted in the effective config.
func TestHTTPTokenRequiredOffLoopback(t *testing.T) {
	load := func(gw string) error {
		src := strings.Replace(base, "  id: gw1\n", "  id: gw1\n"+gw, 1)
		_, err := config.LoadBytes("t.yaml", []byte(src), noEnv)
		return err
	}
	for _, ok := range []string{"", "  http_listen: 127.0.0.1:8080\n", "  http_listen: localhost:8080\n", "  http_listen: \"[::1]:8080\"\n",
		"  http_listen: \"off\"\n", "  http_listen: 0.0.0.0:8080\n  http_token: s3cret\n"} {
		if err := load(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for gw, want := range map[string]string{
		"  http_listen: 0.0.0.0:8080\n":                                    "gateway.http_listen",
		"  http_listen: :8080\n":                                           "set gateway.http_token",
		"  http_listen: 10.0.0.1:8080\n  http_token: change-me\n":          "packaged placeholder",
		"  http_token: a\n  http_token_file: /nonexistent/edgeplane-tok\n": "not both",
	} {
		if err := load(gw); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", gw, err, want)
		}
	}
	c, err := config.LoadBytes("t.yaml", []byte(strings.Replace(base, "  id: gw1\n", "  id: gw1\n  http_token: s3cret-value\n", 1)), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Effective()
	if err != nil || strings.Contains(string(out), "s3cret-value") || !strings.Contains(string(out), "http_token: "+config.Redacted) {
		t.Fatalf("effective config: %v\n%s", err, out)
	}
}
