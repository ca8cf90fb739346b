package ingest

import (
	"bufio"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgeplane/edgeplane/decode"

	"github.com/gorilla/websocket"

	"github.com/edgeplane/edgeplane/internal/clock"
)

// Defaults of WSOptions.
const (
	DefaultWSMaxFrame    = 65536
	DefaultWSMaxConns    = 1024
	DefaultWSIdleTimeout = 5 * time.Minute
)

// WSOptions configure a WebSocket source.
type WSOptions struct {
	// Name names the source in logs and metrics.
	Name string
	// Listen is the host:port to listen on; port 0 picks a free port
	// (see Addr).
	Listen string
	// Path is the URL path of the endpoint, default "/". Ending in '/',
	// it also serves every path below it.
	Path string
	// Topic is the topic every message of the endpoint is decoded under
	// (topic_pattern, key templates). When empty, the topic is the request
	// path below Path: with Path "/ingest/", a client connected to
	// /ingest/city/d7/air/s-1 sends under topic "city/d7/air/s-1"; a
	// connection without such a topic is refused (400). The topic is set
	// per connection, at the handshake.
	Topic string
	// Token, when set, is the secret every client must present in its
	// handshake request, in one of three ways (see tokenOK): an
	// "Authorization: Bearer TOKEN" header; a "token" query parameter
	// (ws://host/path?token=TOKEN), for clients that cannot set headers;
	// or a Sec-WebSocket-Protocol entry "token.TOKEN" (WSTokenProtocol),
	// which browsers and Node's built-in WebSocket can send. A handshake
	// without it is refused with 401. The caller reads it from a file or
	// the environment.
	Token string
	// TLSCertFile and TLSKeyFile enable TLS (wss://) when both are set;
	// TLS, when set, is used instead.
	TLSCertFile, TLSKeyFile string
	TLS                     *tls.Config
	// MaxFrame bounds a message (all frames of it) in bytes; a larger
	// message closes the connection with 1009 (message too big), refused
	// from its frame header before its payload is read. Default 65536.
	MaxFrame int
	// MaxConns bounds the open connections; more are refused with 503
	// before the upgrade. Default 1024.
	MaxConns int
	// RateLimit is each connection's sustained message rate per second,
	// a token bucket of Burst messages (default max(1, RateLimit)). A
	// message over the limit is refused without decoding and counted as
	// rate_limited; a connection that goes on past Burst refused messages
	// in a row is closed with 1008 (policy violation). 0 disables.
	RateLimit float64
	Burst     int
	// IdleTimeout closes (1001, going away) a connection that sent no
	// frame, ping included, for this long, and bounds the time one
	// message may take to arrive: slow clients cannot hold a buffer
	// forever. Default 5m.
	IdleTimeout time.Duration
	// RejectLogInterval limits rejection logs per reason. Default 10s.
	RejectLogInterval time.Duration
	// DeadLetter, when set, receives every rejected record.
	DeadLetter DeadLetter
	Logger     *slog.Logger
}

// WSProtocol is the subprotocol the server selects when a client offers
// it. A browser that offers subprotocols fails the connection unless the
// server selects one of them, and the token entry must never be echoed:
// clients passing the token as a subprotocol offer both, e.g.
// new WebSocket(url, ["edgeplane", "token." + TOKEN]).
const WSProtocol = "edgeplane"

// WSTokenProtocol prefixes the Sec-WebSocket-Protocol entry that carries
// the token. A subprotocol is an HTTP token: the token sent this way must
// consist of letters, digits and !#$%&'*+-.^_`|~ (hex and base64url
// secrets do); other tokens go in the header or the query.
const WSTokenProtocol = "token."

// WSStats count WebSocket handshakes refused and connections closed by
// the server, by cause. Safe for concurrent reads.
type WSStats struct {
	Unauthorized atomic.Uint64 // 401: missing or wrong token
	Overloaded   atomic.Uint64 // 503: MaxConns reached
	BadRequest   atomic.Uint64 // 400/404: no topic, wrong path, failed upgrade
	TooBig       atomic.Uint64 // closed 1009: a message over MaxFrame
	RateLimited  atomic.Uint64 // closed 1008: past Burst refused messages in a row
	Idle         atomic.Uint64 // closed 1001: IdleTimeout
	Protocol     atomic.Uint64 // closed 1002/1003: protocol violation, binary message
}

// WSSource is a WebSocket endpoint sensors push readings to. Each text
// message holds one JSON record, a JSON array of records or NDJSON (see
// decode.Decoder.DecodeRecords); it is decoded on the connection's goroutine and
// its readings handed to Deliver, which is therefore called concurrently
// from many connections.
//
// Memory is bounded per connection: a 1 KiB read buffer, the message
// buffer — grown to the largest message seen, at most MaxFrame, and
// released after a message over 16 KiB — and its goroutine; decoders are
// pooled, not per connection. The worst case is about MaxConns ×
// (MaxFrame + 16 KiB).
type WSSource struct {
	opts  WSOptions
	core  *sourceCore
	rxs   sync.Pool // *receiver
	up    websocket.Upgrader
	srv   *http.Server
	ln    net.Listener
	mux   *http.ServeMux
	conns sync.Map // *wsConn → struct{}
	wg    sync.WaitGroup
	open  atomic.Int64
	state atomic.Int32 // 0 new, 1 serving, 2 stopped

	Stats SourceStats
	WS    WSStats
}

// NewWSSource validates the options and decode config; it does not
// listen.
func NewWSSource(o WSOptions, dc *decode.Options, deliver Deliver) (*WSSource, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("ingest: websocket source %s: %w", o.Name, err)
	}
	if o.Path == "" {
		o.Path = "/"
	}
	if o.MaxFrame <= 0 {
		o.MaxFrame = DefaultWSMaxFrame
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultWSMaxConns
	}
	if o.Burst <= 0 {
		o.Burst = max(1, int(o.RateLimit))
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultWSIdleTimeout
	}
	if _, err := decode.NewDecoder(dc); err != nil {
		return nil, err
	}
	s := &WSSource{opts: o}
	s.core = newSourceCore(o.Name, deliver, o.DeadLetter, o.Logger, o.RejectLogInterval, &s.Stats)
	s.rxs.New = func() any {
		rx, _ := newReceiver(s.core, dc) // dc was validated above
		return rx
	}
	s.up = websocket.Upgrader{
		ReadBufferSize:  128, // unused: frames are read by frameReader
		WriteBufferSize: 128, // control frames only
		WriteBufferPool: &sync.Pool{},
		// The token authenticates, not the origin: browser pages of any
		// origin holding the token may connect.
		CheckOrigin:  func(*http.Request) bool { return true },
		Subprotocols: []string{WSProtocol},
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			s.WS.BadRequest.Add(1)
			http.Error(w, reason.Error(), status)
		},
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc(o.Path, s.serve)
	return s, nil
}

// Handler returns the endpoint's handler, to mount it on another server
// instead of calling Start.
func (s *WSSource) Handler() http.Handler { return s.mux }

// Start listens and serves in the background.
func (s *WSSource) Start(_ context.Context) error {
	if !s.state.CompareAndSwap(0, 1) {
		return errors.New("ingest: websocket source already started")
	}
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		s.state.Store(2)
		return fmt.Errorf("ingest: websocket listen %s: %w", s.opts.Listen, err)
	}
	tc := s.opts.TLS
	if tc == nil && s.opts.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.opts.TLSCertFile, s.opts.TLSKeyFile)
		if err != nil {
			ln.Close()
			s.state.Store(2)
			return fmt.Errorf("ingest: websocket tls: %w", err)
		}
		tc = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.core.log.Handler(), slog.LevelWarn),
	}
	// Up before Serve starts, so a Serve that fails at once leaves it down.
	s.Stats.Connected.Store(true)
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.core.log.Error("websocket server failed", "err", err)
			s.Stats.Connected.Store(false)
		}
	}()
	s.core.log.Info("websocket source listening", "addr", ln.Addr().String(), "path", s.opts.Path, "tls", tc != nil)
	return nil
}

// Addr returns the address the source listens on, once started.
func (s *WSSource) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Connected reports whether the source is listening.
func (s *WSSource) Connected() bool { return s.Stats.Connected.Load() }

// SourceStats returns the source's counters.
func (s *WSSource) SourceStats() *SourceStats { return &s.Stats }

// Name returns the source's name.
func (s *WSSource) Name() string { return s.opts.Name }

// Stop stops listening, closes every connection with 1001 (going away)
// and waits up to quiesce for their goroutines, whose current message is
// delivered.
func (s *WSSource) Stop(quiesce time.Duration) {
	if !s.state.CompareAndSwap(1, 2) {
		s.state.Store(2)
		return
	}
	s.Stats.Connected.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), quiesce)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	s.conns.Range(func(k, _ any) bool {
		k.(*wsConn).close(websocket.CloseGoingAway, "server shutting down")
		return true
	})
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	_ = s.srv.Close()
}

// serve authenticates and upgrades one connection, then reads it until it
// ends. It runs on the connection's own goroutine.
func (s *WSSource) serve(w http.ResponseWriter, r *http.Request) {
	// Added before the upgrade, while http.Server.Shutdown still tracks
	// the connection, so Stop's Wait cannot miss it.
	s.wg.Add(1)
	defer s.wg.Done()
	if s.opts.Token != "" && !tokenOK(r, s.opts.Token) {
		s.WS.Unauthorized.Add(1)
		w.Header().Set("WWW-Authenticate", `Bearer realm="edgeplane"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if r.URL.RawQuery != "" {
		// Drop the token from the URL: nothing logs it, and nothing
		// added later can.
		q := r.URL.Query()
		q.Del("token")
		r.URL.RawQuery = q.Encode()
	}
	topic := s.opts.Topic
	if topic == "" {
		topic = strings.TrimPrefix(r.URL.Path, s.opts.Path)
		if topic == "" || len(topic) > MaxTopicLen {
			s.WS.BadRequest.Add(1)
			http.Error(w, "no topic: connect to "+s.opts.Path+"TOPIC", http.StatusBadRequest)
			return
		}
	}
	if s.open.Add(1) > int64(s.opts.MaxConns) {
		s.open.Add(-1)
		s.WS.Overloaded.Add(1)
		http.Error(w, "too many connections", http.StatusServiceUnavailable)
		return
	}
	defer s.open.Add(-1)
	if s.state.Load() != 1 {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	ws, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrader.Error answered and counted it
	}
	c := newWSConn(s, ws, topic)
	s.conns.Store(c, struct{}{})
	s.Stats.Connects.Add(1)
	s.Stats.Connections.Add(1)
	defer func() {
		s.conns.Delete(c)
		s.Stats.Connections.Add(-1)
		_ = ws.NetConn().Close()
	}()
	if s.state.Load() != 1 { // Stop ran between the check and Store
		c.close(websocket.CloseGoingAway, "server shutting down")
		return
	}
	c.run()
}

// MaxTopicLen bounds a topic taken from a WebSocket request path.
const MaxTopicLen = 1024

// tokenOK reports whether the handshake request r presents token: as an
// "Authorization: Bearer" header, a "token" query parameter or a
// Sec-WebSocket-Protocol entry WSTokenProtocol+token. Every candidate is
// compared in constant time. Nothing here logs the request: its URL may
// hold the token.
func tokenOK(r *http.Request, token string) bool {
	ok := false
	check := func(v string) {
		if subtle.ConstantTimeCompare([]byte(v), []byte(token)) == 1 {
			ok = true
		}
	}
	const bearer = "Bearer "
	for _, h := range r.Header.Values("Authorization") {
		if len(h) >= len(bearer) && strings.EqualFold(h[:len(bearer)], bearer) {
			check(strings.TrimSpace(h[len(bearer):]))
		}
	}
	if r.URL.RawQuery != "" {
		for _, v := range r.URL.Query()["token"] {
			check(v)
		}
	}
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(h, ",") {
			if p = strings.TrimSpace(p); strings.HasPrefix(p, WSTokenProtocol) {
				check(p[len(WSTokenProtocol):])
			}
		}
	}
	return ok
}

// wsConn is one client connection. Its fields are owned by the
// connection's goroutine, except close, which Stop calls too.
type wsConn struct {
	s     *WSSource
	ws    *websocket.Conn // writes control frames
	nc    net.Conn
	topic string
	fr    frameReader

	idleMs int64
	tokens float64 // token bucket
	last   int64   // ms of the last refill
	over   int     // messages refused in a row

	closeOnce sync.Once
}

func newWSConn(s *WSSource, ws *websocket.Conn, topic string) *wsConn {
	c := &wsConn{s: s, ws: ws, nc: ws.NetConn(), topic: topic, idleMs: s.opts.IdleTimeout.Milliseconds()}
	c.fr = frameReader{br: bufio.NewReaderSize(c.nc, 1024), maxFrame: s.opts.MaxFrame, onPing: c.onPing}
	c.tokens = float64(s.opts.Burst)
	c.last = clock.NowMs()
	return c
}

// run reads messages until the connection ends.
func (c *wsConn) run() {
	for {
		cl := c.step()
		if cl != nil {
			if cl.code != 0 {
				c.close(cl.code, cl.text)
			}
			return
		}
	}
}

// wsDone ends run without a close frame of ours: the client closed, or
// the connection failed.
var wsDone = &wsClose{}

// step reads and handles one message. It returns nil to go on, else how
// to end the connection.
func (c *wsConn) step() *wsClose {
	_ = c.nc.SetReadDeadline(time.UnixMilli(clock.NowMs() + c.idleMs))
	op, msg, err := c.fr.next()
	if err != nil {
		return c.readError(err)
	}
	now := clock.NowMs()
	if op != opText {
		c.s.WS.Protocol.Add(1)
		c.s.Stats.Messages.Add(1)
		c.s.Stats.Records.Add(1)
		c.s.core.rejected(decode.ReasonMalformed, c.topic, msg, now, errors.New("binary message; text messages only"))
		return &wsClose{websocket.CloseUnsupportedData, "text messages only"}
	}
	if cl := c.handle(msg, now); cl != nil {
		return cl
	}
	if cap(c.fr.buf) > 16<<10 {
		c.fr.buf = nil // keep idle connections small
	}
	return nil
}

// handle accounts, rate-limits, decodes and delivers one message.
func (c *wsConn) handle(msg []byte, now int64) *wsClose {
	if rate := c.s.opts.RateLimit; rate > 0 {
		c.tokens += float64(now-c.last) * rate / 1000
		c.last = now
		if b := float64(c.s.opts.Burst); c.tokens > b {
			c.tokens = b
		}
		if c.tokens < 1 {
			c.over++
			c.s.Stats.Messages.Add(1)
			c.s.Stats.Records.Add(1)
			c.s.core.rejected(decode.ReasonRateLimited, c.topic, msg, now, errors.New("over the connection's rate limit"))
			if c.over > c.s.opts.Burst {
				c.s.WS.RateLimited.Add(1)
				return &wsClose{websocket.ClosePolicyViolation, "rate limit exceeded"}
			}
			return nil
		}
		c.tokens--
		c.over = 0
	}
	rx := c.s.rxs.Get().(*receiver)
	rx.handle(c.topic, msg, now)
	c.s.rxs.Put(rx)
	return nil
}

// readError maps a read error to how the connection ends.
func (c *wsConn) readError(err error) *wsClose {
	var cl *wsClose
	var ne net.Error
	switch {
	case errors.As(err, &cl):
		if cl.code == websocket.CloseMessageTooBig {
			c.s.WS.TooBig.Add(1)
			c.s.Stats.Messages.Add(1)
			c.s.Stats.Records.Add(1)
			c.s.core.rejected(decode.ReasonTooLarge, c.topic, nil, clock.NowMs(), errors.New(cl.text))
		} else {
			c.s.WS.Protocol.Add(1)
		}
		return cl
	case errors.Is(err, errWSClientClosed):
		c.close(websocket.CloseNormalClosure, "")
		return wsDone
	case errors.As(err, &ne) && ne.Timeout():
		c.s.WS.Idle.Add(1)
		return &wsClose{websocket.CloseGoingAway, "idle timeout"}
	}
	return wsDone
}

// onPing answers a ping and extends the idle deadline.
func (c *wsConn) onPing(p []byte) {
	_ = c.nc.SetReadDeadline(time.UnixMilli(clock.NowMs() + c.idleMs))
	_ = c.ws.WriteControl(websocket.PongMessage, p, time.UnixMilli(clock.NowMs()+5000))
}

// close sends a close frame with code and text (once) and closes the
// connection. Safe to call from any goroutine.
func (c *wsConn) close(code int, text string) {
	c.closeOnce.Do(func() {
		if code != websocket.CloseNormalClosure && code != websocket.CloseGoingAway {
			c.s.Stats.ConnLost.Add(1)
		}
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.UnixMilli(clock.NowMs()+1000))
		_ = c.nc.Close()
	})
}
