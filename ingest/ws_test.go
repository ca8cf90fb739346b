package ingest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/decode"

	"github.com/gorilla/websocket"

	"github.com/edgeplane/edgeplane/internal/testenv"
)

func startWS(t testing.TB, o WSOptions, dc *decode.Options, deliver Deliver) (*WSSource, string) {
	t.Helper()
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.Name == "" {
		o.Name = "ws"
	}
	if dc == nil {
		dc = valueConfig()
	}
	s, err := NewWSSource(o, dc, deliver)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(time.Second) })
	path := o.Path
	if path == "" {
		path = "/"
	}
	return s, "ws://" + s.Addr() + path
}

var testDialer = websocket.Dialer{ReadBufferSize: 256, WriteBufferSize: 256, WriteBufferPool: &sync.Pool{}, HandshakeTimeout: 10 * time.Second}

func dialWS(t testing.TB, url, token string) *websocket.Conn {
	t.Helper()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	c, resp, err := testDialer.Dial(url, h)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", url, err, status)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t testing.TB, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// closeCode reads until the server closes c and returns its close frame.
func closeCode(t testing.TB, c *websocket.Conn) *websocket.CloseError {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce
		}
		t.Fatalf("connection ended without a close frame: %v", err)
	}
}

// TestWSAuth: the token is accepted as a bearer header, a token query
// parameter or a Sec-WebSocket-Protocol entry; missing or wrong, each way
// is refused with 401. The server selects the non-secret subprotocol
// "edgeplane" when offered and never echoes the token entry.
func TestWSAuth(t *testing.T) {
	var c collector
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, url := startWS(t, WSOptions{Token: "s3cret", Topic: "t", Logger: log}, nil, c.deliver)
	// f dials with the header h (name: value) and the query q, and wants
	// status and, on success, the selected subprotocol proto.
	f := func(h, q string, want int, proto string) {
		t.Helper()
		hdr := http.Header{}
		if name, value, ok := strings.Cut(h, ": "); ok {
			hdr.Set(name, value)
		}
		conn, resp, err := testDialer.Dial(url+q, hdr)
		if want == http.StatusSwitchingProtocols {
			if err != nil {
				t.Fatalf("%q %q: %v", h, q, err)
			}
			defer conn.Close()
			if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != proto {
				t.Errorf("%q %q: selected subprotocol %q, want %q", h, q, got, proto)
			}
			return
		}
		if err == nil {
			conn.Close()
			t.Fatalf("%q %q: connected, want status %d", h, q, want)
		}
		if resp == nil || resp.StatusCode != want {
			t.Fatalf("%q %q: %v, want status %d", h, q, err, want)
		}
	}
	f("", "", http.StatusUnauthorized, "")
	f("Authorization: Bearer wrong", "", http.StatusUnauthorized, "")
	f("Authorization: Basic s3cret", "", http.StatusUnauthorized, "")
	f("", "?token=wrong", http.StatusUnauthorized, "")
	f("", "?token=", http.StatusUnauthorized, "")
	f("", "?tok=s3cret", http.StatusUnauthorized, "")
	f("Sec-WebSocket-Protocol: edgeplane, token.wrong", "", http.StatusUnauthorized, "")
	f("Sec-WebSocket-Protocol: s3cret", "", http.StatusUnauthorized, "")
	f("Sec-WebSocket-Protocol: token.", "", http.StatusUnauthorized, "")
	f("Authorization: Bearer s3cret", "", http.StatusSwitchingProtocols, "")
	f("Authorization: bearer s3cret", "", http.StatusSwitchingProtocols, "")
	f("", "?token=s3cret", http.StatusSwitchingProtocols, "")
	f("", "?x=1&token=s3cret", http.StatusSwitchingProtocols, "")
	f("Sec-WebSocket-Protocol: edgeplane, token.s3cret", "", http.StatusSwitchingProtocols, "edgeplane")
	f("Sec-WebSocket-Protocol: token.s3cret,edgeplane", "", http.StatusSwitchingProtocols, "edgeplane")
	f("Sec-WebSocket-Protocol: token.s3cret", "", http.StatusSwitchingProtocols, "")
	if got := s.WS.Unauthorized.Load(); got != 9 {
		t.Errorf("unauthorized %d, want 9", got)
	}
	conn := dialWS(t, url, "s3cret")
	send(t, conn, `{"v":1}`)
	c.waitFor(t, 1)
	if l := logs.String(); strings.Contains(l, "s3cret") || strings.Contains(l, "wrong") {
		t.Errorf("a token reached the log:\n%s", l)
	}
}

func TestWSOversizeCloses(t *testing.T) {
	var c collector
	var dl deadLetters
	s, url := startWS(t, WSOptions{MaxFrame: 100, Topic: "t", DeadLetter: dl.add}, nil, c.deliver)
	conn := dialWS(t, url, "")
	send(t, conn, `{"v":1}`)
	send(t, conn, `{"v":2,"pad":"`+string(bytes.Repeat([]byte{'x'}, 200))+`"}`)
	ce := closeCode(t, conn)
	if ce.Code != websocket.CloseMessageTooBig || ce.Text != "message exceeds 100 bytes" {
		t.Fatalf("close %d %q, want 1009", ce.Code, ce.Text)
	}
	c.waitFor(t, 1)
	testenv.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if s.Stats.Connections.Load() != 0 {
			return fmt.Errorf("%d connections open", s.Stats.Connections.Load())
		}
		return nil
	})
	if s.WS.TooBig.Load() != 1 || s.Stats.Rejected[decode.ReasonTooLarge].Load() != 1 || s.Stats.Messages.Load() != 2 {
		t.Errorf("too big %d, rejected %d, messages %d", s.WS.TooBig.Load(), s.Stats.Rejected[decode.ReasonTooLarge].Load(), s.Stats.Messages.Load())
	}
	if got := dl.get(); len(got) != 1 || got[0] != "too_large t " {
		t.Errorf("dead letters %q", got)
	}
}

type deadLetters struct {
	mu   sync.Mutex
	msgs []string
}

func (d *deadLetters) add(_ string, r decode.Reason, topic string, payload []byte) {
	d.mu.Lock()
	d.msgs = append(d.msgs, r.String()+" "+topic+" "+string(payload))
	d.mu.Unlock()
}

func (d *deadLetters) get() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.msgs...)
}

// TestWSRecords: arrays and NDJSON yield the readings of every record,
// each record accounted on its own; the topic comes from the path.
func TestWSRecords(t *testing.T) {
	var c collector
	var dl deadLetters
	dc := &decode.Options{TopicPattern: "city/{d}/{type}/{id}", Key: "{d}/{id}", Fields: []decode.Field{{Name: "v"}}, MaxSkew: -1}
	s, url := startWS(t, WSOptions{Path: "/ingest/", DeadLetter: dl.add}, dc, c.deliver)
	conn := dialWS(t, url+"city/d7/air/s-1", "")
	send(t, conn, `[{"v":1},{"v":2}]`)
	send(t, conn, "{\"v\":3}\n\n{\"v\":4}\r\n")
	send(t, conn, "{\n  \"v\": 5\n}") // pretty-printed: one record
	send(t, conn, `[{"v":6},"x",{"w":1}]`)
	send(t, conn, "{\"v\":7}\nnot json\n")
	c.waitFor(t, 7)
	testenv.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if s.Stats.Records.Load() != 10 {
			return fmt.Errorf("records %d", s.Stats.Records.Load())
		}
		return nil
	})
	v, _ := c.snapshot()
	wantValues(t, v, 1, 8)
	st := &s.Stats
	if st.Messages.Load() != 5 || st.Accepted.Load() != 7 || st.RejectedTotal() != 3 ||
		st.Rejected[decode.ReasonMalformed].Load() != 2 || st.Rejected[decode.ReasonMissingField].Load() != 1 {
		t.Errorf("messages %d accepted %d rejected %d (malformed %d, missing %d)", st.Messages.Load(), st.Accepted.Load(),
			st.RejectedTotal(), st.Rejected[decode.ReasonMalformed].Load(), st.Rejected[decode.ReasonMissingField].Load())
	}
	c.mu.Lock()
	if c.topics["d7/s-1"] != 7 {
		t.Errorf("keys %v", c.topics)
	}
	c.mu.Unlock()
	want := []string{`malformed city/d7/air/s-1 "x"`, `missing_field city/d7/air/s-1 {"w":1}`, `malformed city/d7/air/s-1 not json`}
	if got := dl.get(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("dead letters %q, want %q", got, want)
	}

	// No topic below the path: refused.
	if _, resp, err := testDialer.Dial(url, nil); err == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("dial without topic: %v", err)
	}
}

func TestWSRateLimit(t *testing.T) {
	var c collector
	s, url := startWS(t, WSOptions{Topic: "t", RateLimit: 0.001, Burst: 2}, nil, c.deliver)
	conn := dialWS(t, url, "")
	for i := range 10 {
		if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"v":`+strconv.Itoa(i)+`}`)); err != nil {
			break // the server may have closed already
		}
	}
	ce := closeCode(t, conn)
	if ce.Code != websocket.ClosePolicyViolation || ce.Text != "rate limit exceeded" {
		t.Fatalf("close %d %q", ce.Code, ce.Text)
	}
	c.waitFor(t, 2)
	if got := s.Stats.Rejected[decode.ReasonRateLimited].Load(); got != 3 {
		t.Errorf("rate limited %d, want 3 (burst 2 then the third in a row closes)", got)
	}
	if got := c.len(); got != 2 {
		t.Errorf("delivered %d, want 2", got)
	}
}

func TestWSIdleAndProtocol(t *testing.T) {
	var c collector
	s, url := startWS(t, WSOptions{Topic: "t", IdleTimeout: 100 * time.Millisecond}, nil, c.deliver)
	conn := dialWS(t, url, "")
	if ce := closeCode(t, conn); ce.Code != websocket.CloseGoingAway || ce.Text != "idle timeout" {
		t.Fatalf("close %d %q", ce.Code, ce.Text)
	}
	if s.WS.Idle.Load() != 1 {
		t.Errorf("idle %d", s.WS.Idle.Load())
	}
	// A source with a long idle timeout, so that a loaded host's pause
	// between dial and write cannot close the connection for idleness.
	s, url = startWS(t, WSOptions{Topic: "t", IdleTimeout: time.Minute}, nil, c.deliver)
	conn = dialWS(t, url, "")
	if err := conn.WriteMessage(websocket.BinaryMessage, []byte(`{"v":1}`)); err != nil {
		t.Fatal(err)
	}
	if ce := closeCode(t, conn); ce.Code != websocket.CloseUnsupportedData {
		t.Fatalf("binary: close %d %q", ce.Code, ce.Text)
	}
	if s.WS.Idle.Load() != 0 || s.WS.Protocol.Load() != 1 || s.Stats.Rejected[decode.ReasonMalformed].Load() != 1 {
		t.Errorf("idle %d protocol %d", s.WS.Idle.Load(), s.WS.Protocol.Load())
	}
}

// TestWSFrames checks the frame reader against gorilla's writer:
// fragmented messages, interleaved pings, lengths of each encoding.
func TestWSFrames(t *testing.T) {
	var c collector
	dc := valueConfig()
	dc.MaxPayload = 1 << 20
	_, url := startWS(t, WSOptions{Topic: "t", MaxFrame: 1 << 20}, dc, c.deliver)
	conn := dialWS(t, url, "")
	pongs := make(chan string, 1)
	conn.SetPongHandler(func(s string) error { pongs <- s; return nil })
	go func() {
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	if err := conn.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-pongs:
		if p != "hi" {
			t.Fatalf("pong %q", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pong")
	}
	// 125-, 16-bit and 64-bit lengths; gorilla fragments a message
	// larger than its write buffer (256 bytes here) into frames.
	for i, pad := range []int{10, 300, 70000} {
		send(t, conn, `{"v":`+strconv.Itoa(i)+`,"pad":"`+string(bytes.Repeat([]byte{'x'}, pad))+`"}`)
	}
	c.waitFor(t, 3)
	v, _ := c.snapshot()
	wantValues(t, v, 0, 3)
}

func TestFrameReaderProtocolErrors(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	f := func(name string, raw []byte, wantCode int) {
		t.Helper()
		fr := frameReader{br: bufioReader(raw), maxFrame: 100}
		_, _, err := fr.next()
		var cl *wsClose
		if !errors.As(err, &cl) || cl.code != wantCode {
			t.Errorf("%s: %v, want close %d", name, err, wantCode)
		}
	}
	unmasked := []byte{0x81, 0x01, 'x'}
	f("unmasked", unmasked, websocket.CloseProtocolError)
	f("rsv", append([]byte{0xC1}, appendClientFrame(nil, opText, []byte("x"), key)[1:]...), websocket.CloseProtocolError)
	f("cont first", appendClientFrame(nil, opCont, []byte("x"), key), websocket.CloseProtocolError)
	f("too big", appendClientFrame(nil, opText, make([]byte, 101), key), websocket.CloseMessageTooBig)
	frag := appendClientFrame(nil, opText, []byte("x"), key)
	frag[0] &^= 0x80 // not final
	f("text in text", append(frag, appendClientFrame(nil, opText, []byte("y"), key)...), websocket.CloseProtocolError)

	// Fragments with a ping between them form one message.
	raw := append([]byte(nil), frag...)
	raw = appendClientFrame(raw, opPing, []byte("p"), key)
	raw = appendClientFrame(raw, opCont, []byte("yz"), key)
	pinged := ""
	fr := frameReader{br: bufioReader(raw), maxFrame: 100, onPing: func(p []byte) { pinged = string(p) }}
	op, msg, err := fr.next()
	if err != nil || op != opText || string(msg) != "xyz" || pinged != "p" {
		t.Fatalf("fragmented: op %d msg %q err %v ping %q", op, msg, err, pinged)
	}
	if _, _, err := fr.next(); err != io.EOF {
		t.Fatalf("at end: %v", err)
	}
}

// TestWSManyConnections holds 1,000 connections open at once and bounds
// the memory each costs (server and test client together).
func TestWSManyConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,000 connections")
	}
	const n = 1000
	var c collector
	s, url := startWS(t, WSOptions{Topic: "t", MaxConns: n}, nil, c.deliver)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	conns := make([]*websocket.Conn, 0, n)
	for i := range n {
		conn := dialWS(t, url, "")
		send(t, conn, `{"v":`+strconv.Itoa(i)+`}`)
		conns = append(conns, conn)
	}
	c.waitFor(t, n)
	if got := s.Stats.Connections.Load(); got != n {
		t.Fatalf("%d connections open, want %d", got, n)
	}
	// One more is refused.
	if _, resp, err := testDialer.Dial(url, nil); err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("connection %d: %v, want 503", n+1, err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	stack := int64(after.StackInuse) - int64(before.StackInuse)
	perConn := (heap + stack) / n
	t.Logf("%d connections: heap +%d KiB, stacks +%d KiB, %d B per connection (server and client)", n, heap>>10, stack>>10, perConn)
	limit := int64(48 << 10)
	if testenv.RaceEnabled {
		limit *= 2
	}
	if perConn > limit {
		t.Errorf("%d B per connection, want ≤ %d", perConn, limit)
	}
	v, _ := c.snapshot()
	wantValues(t, v, 0, n)
	runtime.KeepAlive(conns)
}

// TestWSFrameAllocs: reading, decoding and delivering a message does not
// allocate in steady state.
func TestWSFrameAllocs(t *testing.T) {
	if testenv.RaceEnabled {
		t.Skip("the race detector allocates on its own; allocation budgets are checked without -race")
	}
	c, _ := loopConn(t, []byte(`{"id":"s-123","ts":1763683200123,"pm25":12.4,"pm10":20.1,"temp":21.4,"hum":55.2}`))
	n := testing.AllocsPerRun(1000, func() {
		if cl := c.step(); cl != nil {
			t.Fatalf("step: %+v", cl)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per message, want 0", n)
	}
}

// loopConn returns a wsConn reading frame, repeated forever, from an
// in-memory connection, and the number of readings delivered so far.
func loopConn(t testing.TB, payload []byte) (*wsConn, *int) {
	dc := &decode.Options{KeyPath: "id", TimePath: "ts", MaxSkew: -1,
		Fields: []decode.Field{{Name: "pm25"}, {Name: "pm10"}, {Name: "temp"}, {Name: "hum"}}}
	delivered := new(int)
	s, err := NewWSSource(WSOptions{Listen: "127.0.0.1:0", Topic: "t"}, dc, func(b *decode.Batch) { *delivered += len(b.Readings) })
	if err != nil {
		t.Fatal(err)
	}
	frame := appendClientFrame(nil, opText, payload, [4]byte{0x11, 0x22, 0x33, 0x44})
	nc := &loopNetConn{data: frame}
	c := &wsConn{s: s, nc: nc, topic: "t", idleMs: 60000}
	c.fr = frameReader{br: bufioReaderFrom(nc), maxFrame: s.opts.MaxFrame}
	return c, delivered
}

// loopNetConn is a net.Conn whose reads repeat data forever.
type loopNetConn struct {
	net.Conn
	data []byte
	off  int
}

func (l *loopNetConn) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

func (l *loopNetConn) SetReadDeadline(time.Time) error { return nil }

var wsSink int

// BenchmarkWSFrame is the per-message cost of the frame path without the
// network: frame parsing, unmasking, decoding, delivery.
func BenchmarkWSFrame(b *testing.B) {
	payload := []byte(`{"id":"s-123","ts":1763683200123,"pm25":12.4,"pm10":20.1,"temp":21.4,"hum":55.2}`)
	c, delivered := loopConn(b, payload)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if cl := c.step(); cl != nil {
			b.Fatal(cl)
		}
	}
	wsSink += *delivered
}

// BenchmarkWSIngest is messages per second over loopback WebSocket
// connections, each fed by a raw writer of pre-encoded frames.
func BenchmarkWSIngest(b *testing.B) {
	for _, conns := range []int{1, 4} {
		b.Run("conns="+strconv.Itoa(conns), func(b *testing.B) {
			payload := []byte(`{"id":"s-123","ts":1763683200123,"pm25":12.4,"pm10":20.1,"temp":21.4,"hum":55.2}`)
			dc := &decode.Options{KeyPath: "id", TimePath: "ts", MaxSkew: -1,
				Fields: []decode.Field{{Name: "pm25"}, {Name: "pm10"}, {Name: "temp"}, {Name: "hum"}}}
			var got atomic.Int64
			s, url := startWS(b, WSOptions{Topic: "t", Logger: quietLog}, dc, func(*decode.Batch) { got.Add(1) })
			frame := appendClientFrame(nil, opText, payload, [4]byte{1, 2, 3, 4})
			const per = 256
			batch := bytes.Repeat(frame, per)
			ncs := make([]net.Conn, conns)
			for i := range ncs {
				ncs[i] = dialWS(b, url, "").NetConn()
			}
			b.SetBytes(int64(len(payload)))
			b.ResetTimer()
			var wg sync.WaitGroup
			for i, nc := range ncs {
				share := b.N / conns
				if i == 0 {
					share += b.N % conns
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for share > 0 {
						k := min(share, per)
						if _, err := nc.Write(batch[:k*len(frame)]); err != nil {
							return
						}
						share -= k
					}
				}()
			}
			wg.Wait()
			testenv.CheckFor(b, 60*time.Second, time.Millisecond, func() error {
				if g := got.Load(); g < int64(b.N) {
					return fmt.Errorf("%d of %d delivered", g, b.N)
				}
				return nil
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
			_ = s
		})
	}
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReaderSize(bytes.NewReader(b), 1024) }

func bufioReaderFrom(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 1024) }
