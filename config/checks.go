package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgeplane/edgeplane/operators"
	"github.com/edgeplane/edgeplane/record"
	"golang.org/x/sys/unix"
)

// Checks validate runs on the file as a whole that belong to no stage:
// options that do nothing where they are written, listeners that would
// collide at bind, a data_dir that cannot be made, and the packaged
// placeholder values. None of them has a side effect.

// checkInert reports options written in the file that the pipeline's
// window type or time mode ignores.
func (c *Config) checkInert(ps *problems, i int) {
	w := &c.Pipelines[i].Window
	at := fmt.Sprintf("pipelines[%d].window", i)
	// An option written with a non-zero value that the window ignores.
	inert := func(opt string, v Duration, why string) {
		if v != 0 && c.Has(at+"."+opt) {
			ps.add(at+"."+opt, "%s", why)
		}
	}
	switch w.Type {
	case record.Tumbling:
		inert("advance", w.Advance, "tumbling windows have no advance (for windows that overlap, set type: hopping)")
		inert("gap", w.Gap, "only session windows have a gap")
	case record.Hopping:
		inert("gap", w.Gap, "only session windows have a gap")
	case record.Session:
		inert("size", w.Size, "session windows have no size: a session lasts while readings come closer than gap")
		inert("advance", w.Advance, "session windows have no advance")
		inert("offset", w.Offset, "session windows are not aligned to the epoch, so they take no offset")
	}
	if w.Time == operators.ProcessingTime {
		inert("out_of_orderness", w.OutOfOrderness, "with time: processing nothing arrives out of order (the arrival time is the event time)")
		inert("allowed_lateness", w.AllowedLateness, "with time: processing nothing is late")
	}
}

// listener is one address the gateway binds.
type listener struct{ path, addr string }

// checkListeners reports two listeners on the same port whose hosts
// overlap: the second would fail at bind. Port 0 picks a free port and
// never collides.
func (c *Config) checkListeners(ps *problems) {
	var ls []listener
	if c.Gateway.HTTPListen != "off" {
		ls = append(ls, listener{"gateway.http_listen", c.Gateway.HTTPListen})
	}
	if c.NATS.Listen != "" {
		ls = append(ls, listener{"nats.listen", c.NATS.Listen})
	}
	if c.NATS.MQTTListen != "" {
		ls = append(ls, listener{"nats.mqtt_listen", c.NATS.MQTTListen})
	}
	for i := range c.Sources {
		if s := &c.Sources[i]; s.Type == SourceWebSocket && s.WebSocket.Listen != "" {
			ls = append(ls, listener{fmt.Sprintf("sources[%d].websocket.listen", i), s.WebSocket.Listen})
		}
	}
	for j := range ls {
		hj, pj, err := net.SplitHostPort(ls[j].addr)
		if err != nil || pj == "0" {
			continue
		}
		for i := range j {
			hi, pi, err := net.SplitHostPort(ls[i].addr)
			if err != nil || pi != pj || !hostsOverlap(hi, hj) {
				continue
			}
			where := c.Where(ls[i].path)
			ps.add(ls[j].path, "%s collides with %s (%s, %s:%d): both would bind port %s", ls[j].addr, ls[i].path, ls[i].addr, where.File, where.Line, pj)
			break
		}
	}
}

// hostsOverlap reports whether listeners on hosts a and b of one port
// would conflict: the same host, or either on every address.
func hostsOverlap(a, b string) bool {
	any := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" || h == "[::]" }
	if any(a) || any(b) {
		return true
	}
	if a == b {
		return true
	}
	ia, ib := net.ParseIP(a), net.ParseIP(b)
	return ia != nil && ib != nil && ia.Equal(ib) || (a == "localhost" && ib != nil && ib.IsLoopback()) ||
		(b == "localhost" && ia != nil && ia.IsLoopback())
}

// loopbackListen reports whether the listener address hp (host:port) is
// reachable from this host only: 127.0.0.0/8, ::1 or localhost.
func loopbackListen(hp string) bool {
	h, _, err := net.SplitHostPort(hp)
	if err != nil {
		return false
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// checkDataDir reports a data_dir that cannot be used: a path through a
// file, or a directory (or the nearest existing parent) this process
// cannot write. It creates nothing.
func (c *Config) checkDataDir(ps *problems) {
	dir := c.Gateway.DataDir
	if dir == "" {
		return
	}
	p := filepath.Clean(dir)
	for {
		fi, err := os.Stat(p)
		switch {
		case err == nil && !fi.IsDir():
			ps.add("gateway.data_dir", "%s: %s is not a directory", dir, p)
			return
		case err == nil:
			if err := unix.Access(p, unix.W_OK|unix.X_OK); err != nil {
				if p == filepath.Clean(dir) {
					ps.add("gateway.data_dir", "%s is not writable by this user: %v", dir, err)
				} else {
					ps.add("gateway.data_dir", "%s does not exist and cannot be created: %s is not writable by this user", dir, p)
				}
			}
			return
		case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, unix.ENOTDIR):
			ps.add("gateway.data_dir", "%s: %v", dir, err)
			return
		}
		parent := filepath.Dir(p)
		if parent == p {
			return
		}
		p = parent
	}
}

// placeholders are values the packaged and example configs ship with that
// must be replaced before a gateway runs.
var placeholders = []string{"change-me", "changeme", "change_me"}

// checkPlaceholders reports the packaged placeholder values still in the
// file: the gateway id and the Kafka brokers must name real things, the
// WebSocket token and listener passwords must be secrets.
func (c *Config) checkPlaceholders(ps *problems) {
	for _, p := range placeholders {
		if strings.Contains(strings.ToLower(c.Gateway.ID), p) {
			ps.add("gateway.id", "%q is the packaged placeholder: set this gateway's own id", c.Gateway.ID)
			break
		}
	}
	for _, p := range placeholders {
		if strings.Contains(strings.ToLower(c.Gateway.HTTPToken), p) {
			ps.add("gateway.http_token", "the token is the packaged placeholder: set a secret (http_token_file, or ${VAR} from the environment)")
			break
		}
	}
	for i := range c.Sources {
		w := &c.Sources[i].WebSocket
		for _, p := range placeholders {
			if c.Sources[i].Type == SourceWebSocket && strings.Contains(strings.ToLower(w.Token), p) {
				ps.add(fmt.Sprintf("sources[%d].websocket.token", i), "the token is the packaged placeholder: set a secret (token_file, or ${VAR} from the environment)")
				break
			}
		}
	}
	for i, u := range c.NATS.Auth.Users {
		for _, p := range placeholders {
			if strings.Contains(strings.ToLower(u.Password), p) {
				ps.add(fmt.Sprintf("nats.auth.users[%d].password", i), "the password is the packaged placeholder: set a secret (password_file, password_hash, or ${VAR} from the environment)")
				break
			}
		}
	}
	for i, b := range c.Kafka.Brokers {
		host, _, err := net.SplitHostPort(b)
		if err != nil {
			continue
		}
		for _, label := range strings.Split(strings.ToLower(host), ".") {
			if label == "example" {
				ps.add(fmt.Sprintf("kafka.brokers[%d]", i), "%q is a placeholder (example domain): set your Kafka brokers", b)
				break
			}
		}
	}
}

// checkHTTPToken refuses an http_listen reachable from other hosts
// without a token for the read API (which shows series keys, values and
// a live tap), and a token given twice or in a file that cannot be read.
func (c *Config) checkHTTPToken(ps *problems) {
	g := &c.Gateway
	if g.HTTPToken != "" && g.HTTPTokenFile != "" {
		ps.add("gateway.http_token_file", "set http_token or http_token_file, not both")
	}
	if g.HTTPTokenFile != "" {
		if _, err := os.Stat(g.HTTPTokenFile); err != nil {
			ps.add("gateway.http_token_file", "cannot read %s: %v", g.HTTPTokenFile, err)
		}
	}
	if g.HTTPListen == "off" || g.HTTPToken != "" || g.HTTPTokenFile != "" {
		return
	}
	host, _, err := net.SplitHostPort(g.HTTPListen)
	if err != nil {
		return // reported by checkHostPort
	}
	if !IsLoopback(host) {
		ps.add("gateway.http_listen", "%s is reachable from other hosts: set gateway.http_token (or http_token_file) to protect the read API, or listen on 127.0.0.1", g.HTTPListen)
	}
}

// IsLoopback reports whether host (of a host:port) binds only the
// loopback interface: localhost or a loopback IP. An empty host binds
// every interface.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
