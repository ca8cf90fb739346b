package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"

	"golang.org/x/crypto/bcrypt"

	"github.com/edgeplane/edgeplane/internal/tlsconf"
)

// The listeners' security: users and their secrets, TLS, and the rule
// that a listener other hosts can reach is not open to anyone by
// accident. The accounts that keep listener clients away from the
// gateway's streams are natsd's, and apply whatever this says.

// validateListenerSecurity checks nats.auth and nats.tls, and refuses a
// listener reachable from other hosts with no users unless anonymous
// access is asked for explicitly.
func (c *Config) validateListenerSecurity(ps *problems) {
	n := &c.NATS
	var listeners []listener
	if n.Listen != "" {
		listeners = append(listeners, listener{"nats.listen", n.Listen})
	}
	if n.MQTTListen != "" {
		listeners = append(listeners, listener{"nats.mqtt_listen", n.MQTTListen})
	}
	a := &n.Auth
	for i := range a.Users {
		u := &a.Users[i]
		at := fmt.Sprintf("nats.auth.users[%d]", i)
		set := 0
		for _, v := range []string{u.Password, u.PasswordFile, u.PasswordHash} {
			if v != "" {
				set++
			}
		}
		switch {
		case u.Password == Redacted || u.PasswordHash == Redacted:
			ps.add(at, "the password is %s, what `edgeplane config` prints for a secret: set the real one", Redacted)
		case set == 0:
			ps.add(at+".password", "a password is required: password, password_file or password_hash (bcrypt)")
		case set > 1:
			ps.add(at, "set one of password, password_file and password_hash")
		case u.PasswordFile != "":
			if _, err := os.Stat(u.PasswordFile); err != nil {
				ps.add(at+".password_file", "cannot read %s: %v", u.PasswordFile, err)
			}
		case u.PasswordHash != "":
			if _, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil {
				ps.add(at+".password_hash", "not a bcrypt hash ($2a$…, $2b$… or $2y$…): %v", err)
			}
		}
	}
	if len(a.Users) > 0 && len(listeners) == 0 {
		ps.add("nats.auth.users", "no listener to log in to: set nats.listen or nats.mqtt_listen")
	}
	if len(a.Users) == 0 && !a.AllowAnonymous {
		for _, l := range listeners {
			if host, _, err := net.SplitHostPort(l.addr); err == nil && !loopbackHost(host) {
				ps.add(l.path, "%s is reachable from other hosts and no one has to log in: anyone who can reach it may publish readings. "+
					"Add users under nats.auth.users, bind it to 127.0.0.1, or set nats.auth.allow_anonymous: true to accept anonymous clients", l.addr)
			}
		}
	}
	t := &n.TLS
	at := "nats.tls"
	for _, f := range []struct{ key, path string }{{"ca_file", t.CAFile}, {"cert_file", t.CertFile}, {"key_file", t.KeyFile}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			ps.add(at+"."+f.key, "cannot read %s: %v", f.path, err)
		}
	}
	switch {
	case (t.CertFile == "") != (t.KeyFile == ""):
		ps.add(at, "cert_file and key_file go together")
	case !t.Enabled() && (t.CAFile != "" || t.VerifyClients):
		ps.add(at, "ca_file and verify_clients need the listeners' cert_file and key_file")
	case t.VerifyClients && t.CAFile == "":
		ps.add(at+".verify_clients", "needs ca_file, the CAs client certificates are checked against")
	case t.Enabled() && len(listeners) == 0:
		ps.add(at, "no listener to serve: set nats.listen or nats.mqtt_listen")
	case t.Enabled():
		// What run loads (pipeline), loaded here: a certificate that does
		// not match its key or a CA file without certificates is refused
		// by validate, not at start.
		if _, err := tlsconf.Server(t.Files()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			ps.add(at, "%v", err)
		}
	}
	if !t.VerifyClients {
		return
	}
	for i := range c.Sources {
		m := &c.Sources[i].MQTT
		if c.Sources[i].Type == SourceMQTT && m.Broker == "embedded" && m.TLS.CertFile == "" {
			ps.add(fmt.Sprintf("sources[%d].mqtt.tls.cert_file", i), "the embedded listener requires client certificates (nats.tls.verify_clients): "+
				"give the source one, or use type: embedded, which reads in-process")
		}
	}
}

// loopbackHost reports whether a listener on host is reachable from this
// host only: localhost or a loopback address (127.0.0.0/8, ::1).
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
