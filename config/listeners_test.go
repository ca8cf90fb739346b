package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/edgeplane/edgeplane/config"
)

// withNATS is base with a nats section.
func withNATS(nats string) string {
	return strings.Replace(base, "kafka:", "nats:\n"+nats+"kafka:", 1)
}

// TestListenerSecurityRefused: every way the listeners' security can be
// wrong is refused at its option, with why and how to fix it; first of
// all a listener other hosts can reach that anyone may use.
func TestListenerSecurityRefused(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "c.pem")
	if err := os.WriteFile(cert, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := func(name, nats, wantPath, wantMsg string) {
		t.Helper()
		src := withNATS(nats)
		if strings.HasPrefix(name, "embedded") {
			src = strings.Replace(src, "broker: tcp://127.0.0.1:1883", "broker: embedded", 1)
		}
		for _, p := range problems(t, src, map[string]string{"PW": "S3CRET-pw"}) {
			if p.Path == wantPath && strings.Contains(p.Msg, wantMsg) {
				if p.Line == 0 {
					t.Errorf("%s: problem has no line: %v", name, p)
				}
				if strings.Contains(p.Msg, "S3CRET") {
					t.Errorf("%s: a secret in the problem: %v", name, p)
				}
				return
			}
		}
		t.Errorf("%s: no problem at %s containing %q", name, wantPath, wantMsg)
	}
	open := "reachable from other hosts and no one has to log in"
	f("open mqtt listener", "  mqtt_listen: 0.0.0.0:1884\n", "nats.mqtt_listen", open)
	f("open mqtt listener, all hosts", "  mqtt_listen: :1884\n", "nats.mqtt_listen", "nats.auth.allow_anonymous: true")
	f("open nats listener", "  listen: 192.168.1.10:4222\n", "nats.listen", open)
	f("open listener by name", "  listen: gw.local:4222\n", "nats.listen", open)
	f("no password", "  mqtt_listen: 0.0.0.0:1884\n  auth: {users: [{user: a}]}\n", "nats.auth.users[0].password", "password_hash")
	f("two passwords", "  mqtt_listen: 0.0.0.0:1884\n  auth: {users: [{user: a, password: x, password_hash: y}]}\n", "nats.auth.users[0]", "set one of")
	f("bad hash", "  mqtt_listen: 0.0.0.0:1884\n  auth: {users: [{user: a, password_hash: plain}]}\n", "nats.auth.users[0].password_hash", "not a bcrypt hash")
	f("missing file", "  mqtt_listen: 0.0.0.0:1884\n  auth: {users: [{user: a, password_file: /nonexistent/pw}]}\n", "nats.auth.users[0].password_file", "cannot read")
	f("redacted", "  mqtt_listen: 0.0.0.0:1884\n  auth: {users: [{user: a, password: \"<redacted>\"}]}\n", "nats.auth.users[0]", "set the real one")
	f("placeholder", "  mqtt_listen: 0.0.0.0:1884\n  auth: {users: [{user: a, password: change-me}]}\n", "nats.auth.users[0].password", "placeholder")
	f("reserved name", "  mqtt_listen: 0.0.0.0:1884\n  auth: {users: [{user: anonymous, password: ${PW}}]}\n", "nats.auth.users[0].user", "reserved")
	f("duplicate user", "  mqtt_listen: 0.0.0.0:1884\n  auth: {users: [{user: a, password: ${PW}}, {user: a, password: ${PW}}]}\n", "nats.auth.users[1].user", "twice")
	f("bad subject", "  mqtt_listen: 0.0.0.0:1884\n  auth: {users: [{user: a, password: ${PW}, publish: [\"city..x\"]}]}\n", "nats.auth.users[0].publish[0]", "not a valid NATS subject")
	f("users without listener", "  auth: {users: [{user: a, password: ${PW}}]}\n", "nats.auth.users", "no listener")
	f("cert without key", "  mqtt_listen: 127.0.0.1:1884\n  tls: {cert_file: "+cert+"}\n", "nats.tls", "go together")
	f("verify without ca", "  mqtt_listen: 127.0.0.1:1884\n  tls: {cert_file: "+cert+", key_file: "+cert+", verify_clients: true}\n", "nats.tls.verify_clients", "needs ca_file")
	f("not a certificate", "  mqtt_listen: 127.0.0.1:1884\n  tls: {cert_file: "+cert+", key_file: "+cert+"}\n", "nats.tls", "tls server cert")
	f("tls without listener", "  tls: {cert_file: "+cert+", key_file: "+cert+"}\n", "nats.tls", "no listener")
	f("ca without cert", "  mqtt_listen: 127.0.0.1:1884\n  tls: {ca_file: "+cert+"}\n", "nats.tls", "need the listeners' cert_file")
	f("embedded source without client cert", "  mqtt_listen: 127.0.0.1:1884\n  tls: {cert_file: "+cert+", key_file: "+cert+", ca_file: "+cert+", verify_clients: true}\n",
		"sources[0].mqtt.tls.cert_file", "type: embedded")
}

// TestListenerSecurityAccepted: loopback listeners need no users; a
// listener other hosts reach is accepted with users or with anonymous
// access written out; and `edgeplane config` prints no password or hash.
func TestListenerSecurityAccepted(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("S3CRET-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) (string, bool) {
		return map[string]string{"PW": "S3CRET-env", "HASH": string(hash)}[k], true
	}
	for _, nats := range []string{
		"  mqtt_listen: 127.0.0.1:1884\n  listen: localhost:4222\n",
		"  mqtt_listen: \"[::1]:1884\"\n",
		"  mqtt_listen: 0.0.0.0:1884\n  auth: {allow_anonymous: true}\n",
		"  mqtt_listen: 0.0.0.0:1884\n  listen: 0.0.0.0:4222\n  auth:\n    users:\n" +
			"      - {user: a, password: ${PW}, publish: [\"city.>\"], subscribe: []}\n" +
			"      - {user: b, password_hash: ${HASH}}\n" +
			"      - {user: c, password_file: " + pwFile + "}\n",
	} {
		c, err := config.LoadBytes("ok.yaml", []byte(withNATS(nats)), env)
		if err != nil {
			t.Errorf("refused:\n%s\n%v", nats, err)
			continue
		}
		out, err := c.Effective()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), "S3CRET") || strings.Contains(string(out), string(hash)) {
			t.Errorf("a secret in the effective config:\n%s", out)
		}
		if len(c.NATS.Auth.Users) > 0 && strings.Count(string(out), config.Redacted) != 2 {
			t.Errorf("want the password and the hash redacted:\n%s", out)
		}
		cp, err := config.Compile(c)
		if err != nil {
			t.Fatal(err)
		}
		if len(cp.NATS.Users) != len(c.NATS.Auth.Users) {
			t.Errorf("compiled %d users, want %d", len(cp.NATS.Users), len(c.NATS.Auth.Users))
		}
	}
}
