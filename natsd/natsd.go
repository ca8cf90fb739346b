package natsd

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Options configure the embedded server. The zero value is not usable:
// StoreDir is required.
type Options struct {
	// ServerName names the server; MQTT needs one. Default "edgeplane".
	ServerName string
	// StoreDir is where JetStream keeps its files (created if missing).
	StoreDir string
	// Listen is the host:port of the NATS client listener. Empty means no
	// listener at all: only in-process connections reach the server.
	// Port 0 or -1 picks a free port.
	Listen string
	// MQTTListen is the host:port of the MQTT listener; empty disables it.
	MQTTListen string
	// MaxStore bounds JetStream file storage in bytes; 0 means the
	// server's default (a share of the free disk).
	MaxStore int64
	// MaxMemory bounds JetStream memory storage in bytes; 0 means the
	// server's default.
	MaxMemory int64
	// SyncAlways makes JetStream fsync every write. Off, the server syncs
	// every SyncInterval (the server's default is 2 minutes).
	SyncAlways   bool
	SyncInterval time.Duration
	// MQTTAckWait is how long the MQTT listener waits for a subscriber's
	// ack of a QoS 1 message before redelivering it. 0 keeps the server's
	// default (30s).
	MQTTAckWait time.Duration
	// Users may log in on the listeners (both of them), in SensorAccount
	// with their own permissions.
	Users []User
	// AllowAnonymous lets a listener client that sends no credentials in
	// as AnonymousUser (the restrictions of every listener client apply).
	// Without Users anonymous clients are always let in: configuring users
	// turns anonymous access off unless this is set.
	AllowAnonymous bool
	// TLS, when set, serves both listeners over TLS only; with ClientAuth
	// tls.RequireAndVerifyClientCert they require a client certificate
	// signed by ClientCAs. In-process connections skip TLS.
	TLS *tls.Config
	// ReadyTimeout bounds the wait for the server to start. Default 10s.
	ReadyTimeout time.Duration
	// Logger receives the server's notices and errors; nil silences them.
	Logger *slog.Logger
}

// maxClosedClients is how many closed connections the server remembers
// for its monitoring endpoint (/connz?state=closed), which the gateway
// does not serve. The server's default, 10,000, keeps each closed
// connection's details (name, address, subscriptions, counters): on a
// listener where sensors reconnect all day the ring fills and holds them
// for good. The server needs at least one.
const maxClosedClients = 1

// Server is a running embedded nats-server.
type Server struct {
	srv  *server.Server
	opts Options
	ids  *identities
}

// Start starts the server and waits until it accepts connections.
func Start(o Options) (*Server, error) {
	if o.StoreDir == "" {
		return nil, errors.New("natsd: store dir is required")
	}
	if o.ServerName == "" {
		o.ServerName = "edgeplane"
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 10 * time.Second
	}
	if err := os.MkdirAll(o.StoreDir, 0o750); err != nil {
		return nil, fmt.Errorf("natsd: cannot create store dir: %w", err)
	}
	moved, err := moveMQTTState(o.StoreDir)
	if err != nil {
		return nil, err
	}
	if len(moved) > 0 && o.Logger != nil {
		o.Logger.Info("moved the MQTT listener's sessions to the sensors' account", "component", "nats", "streams", moved)
	}
	so := &server.Options{
		ServerName:         o.ServerName,
		JetStream:          true,
		StoreDir:           filepath.Clean(o.StoreDir),
		JetStreamMaxStore:  o.MaxStore,
		JetStreamMaxMemory: o.MaxMemory,
		SyncAlways:         o.SyncAlways,
		SyncInterval:       o.SyncInterval,
		NoSigs:             true,
		NoLog:              o.Logger == nil,
		MaxPayload:         8 << 20,
		MaxClosedClients:   maxClosedClients,
	}
	ids, err := newIdentities()
	if err != nil {
		return nil, fmt.Errorf("natsd: internal credentials: %w", err)
	}
	if err := configureAuth(so, &o, ids); err != nil {
		return nil, err
	}
	if o.TLS != nil {
		if len(o.TLS.Certificates) == 0 {
			return nil, errors.New("natsd: tls needs a certificate")
		}
		verify := o.TLS.ClientAuth == tls.RequireAndVerifyClientCert
		so.TLSConfig, so.TLSVerify, so.TLS = o.TLS, verify, true
		so.MQTT.TLSConfig = o.TLS
		so.TLSTimeout, so.MQTT.TLSTimeout = 5, 5
	}
	if o.Listen == "" {
		so.DontListen = true
	} else {
		host, port, err := splitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("natsd: listen %q: %w", o.Listen, err)
		}
		so.Host, so.Port = host, port
	}
	if o.MQTTListen != "" {
		host, port, err := splitHostPort(o.MQTTListen)
		if err != nil {
			return nil, fmt.Errorf("natsd: mqtt listen %q: %w", o.MQTTListen, err)
		}
		if port <= 0 {
			// Port 0 disables the server's MQTT listener; -1 asks it for
			// a free port, which it writes back into so.MQTT.Port when it
			// listens (read below, once the server is ready).
			port = -1
		}
		so.MQTT.Host, so.MQTT.Port = host, port
		so.MQTT.AckWait = o.MQTTAckWait
	}
	srv, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("natsd: %w", err)
	}
	// The server reports a listener it cannot open (a port in use) only
	// through its logger's Fatalf, and ReadyForConnections would wait out
	// its whole timeout; the adapter passes the first fatal on so that
	// Start fails at once and says why.
	logger := slog.New(slog.DiscardHandler)
	if o.Logger != nil {
		logger = o.Logger.With("component", "nats")
	}
	fatal := make(chan string, 1)
	srv.SetLoggerV2(&slogAdapter{l: logger, fatal: fatal}, false, false, false)
	srv.Start()
	if err := waitReady(srv, fatal, o.ReadyTimeout); err != nil {
		srv.Shutdown()
		return nil, err
	}
	if o.MQTTListen != "" {
		// The server keeps the Options it was given and set the port
		// there before it reported its listener ready (under its lock,
		// which ReadyForConnections took after).
		o.MQTTListen = net.JoinHostPort(so.MQTT.Host, strconv.Itoa(so.MQTT.Port))
	}
	if err := enableGatewayJetStream(srv); err != nil {
		srv.Shutdown()
		return nil, err
	}
	return &Server{srv: srv, opts: o, ids: ids}, nil
}

func splitHostPort(hp string) (string, int, error) {
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	if n == 0 {
		n = -1
	}
	return h, n, nil
}

// Connect opens an in-process client connection to the server in the
// gateway's account (GatewayAccount): no socket, no port, and no listener
// client can reach what it publishes or stores. name identifies the client
// in the server's monitoring.
func (s *Server) Connect(name string, extra ...nats.Option) (*nats.Conn, error) {
	return s.connect(s.ids.gateway, name, extra)
}

// ConnectSensors opens an in-process connection in SensorAccount, where
// the listeners' clients publish: it may subscribe to their subjects
// (less the subjects denied to every listener client) and publish nothing.
func (s *Server) ConnectSensors(name string, extra ...nats.Option) (*nats.Conn, error) {
	return s.connect(s.ids.sensors, name, extra)
}

func (s *Server) connect(kp nkeys.KeyPair, name string, extra []nats.Option) (*nats.Conn, error) {
	auth, err := nkeyOption(kp)
	if err != nil {
		return nil, fmt.Errorf("natsd: in-process connect: %w", err)
	}
	opts := append([]nats.Option{
		nats.InProcessServer(s.srv),
		nats.Name(name),
		nats.MaxReconnects(-1),
		auth,
	}, extra...)
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, fmt.Errorf("natsd: in-process connect: %w", err)
	}
	return nc, nil
}

// MQTTAddr returns the address the MQTT listener is bound to ("" when off),
// as tcp://host:port, or ssl://host:port with TLS.
func (s *Server) MQTTAddr() string {
	if s.opts.MQTTListen == "" {
		return ""
	}
	if s.opts.TLS != nil {
		return "ssl://" + s.opts.MQTTListen
	}
	return "tcp://" + s.opts.MQTTListen
}

// MQTTCredentials are the user name and password the gateway's own MQTT
// clients log in with on the MQTT listener (InternalMQTTUser, in
// SensorAccount, subscribe only). The password is random per run and
// never written anywhere.
func (s *Server) MQTTCredentials() (user, password string) {
	return InternalMQTTUser, s.ids.mqttPassword
}

// MQTTClientTLS is a TLS client configuration for the gateway's own MQTT
// clients on a TLS listener: it trusts exactly the listener's certificate.
// Nil without TLS.
func (s *Server) MQTTClientTLS() *tls.Config {
	if s.opts.TLS == nil {
		return nil
	}
	return pinnedTLS(&s.opts.TLS.Certificates[0])
}

// ClientURL returns the NATS client URL, or "" when there is no listener.
func (s *Server) ClientURL() string {
	if s.srv.Addr() == nil {
		return ""
	}
	return s.srv.ClientURL()
}

// JetStreamReady reports whether JetStream is enabled and usable.
func (s *Server) JetStreamReady() bool {
	return s.srv.JetStreamEnabled() && s.srv.Running()
}

// Running reports whether the server is running.
func (s *Server) Running() bool { return s.srv.Running() }

// Shutdown stops the server and waits for it to finish, which flushes
// JetStream's files.
func (s *Server) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}

// waitReady waits until the server's listeners are open, and fails at
// once with the server's own words when it reports a fatal error (a
// listener's address in use) before that.
func waitReady(srv *server.Server, fatal <-chan string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if srv.ReadyForConnections(readyPoll) {
			return nil
		}
		select {
		case msg := <-fatal:
			return fmt.Errorf("natsd: %s", msg)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("natsd: server not ready within %s", timeout)
		}
	}
}

// readyPoll is how long each readiness check waits before waitReady looks
// for a fatal error.
const readyPoll = 50 * time.Millisecond

// slogAdapter routes nats-server logs to slog, and the first fatal error
// to fatal (buffered, never blocking).
type slogAdapter struct {
	l     *slog.Logger
	fatal chan<- string
}

func (a *slogAdapter) Noticef(format string, v ...any) { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a *slogAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a *slogAdapter) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	a.l.Error(msg)
	select {
	case a.fatal <- msg:
	default:
	}
}
func (a *slogAdapter) Errorf(format string, v ...any) { a.l.Error(fmt.Sprintf(format, v...)) }
func (a *slogAdapter) Debugf(format string, v ...any) { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a *slogAdapter) Tracef(format string, v ...any) {}
