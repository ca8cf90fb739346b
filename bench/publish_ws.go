package bench

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// WebSocket framings.
const (
	// FramingJSON sends one JSON object per frame when PerFrame is 1,
	// else a JSON array of PerFrame objects.
	FramingJSON = "json"
	// FramingNDJSON sends PerFrame objects per frame, one per line.
	FramingNDJSON = "ndjson"
)

// WSOptions configure a WSPublisher.
type WSOptions struct {
	// URL is the endpoint (ws://host:port/path or wss://…).
	URL string
	// Token, when set, is sent as "Authorization: Bearer <token>".
	Token string
	// Connections is the number of WebSocket connections. Default 1.
	Connections int
	// PerFrame is the number of readings objects per frame (1..k).
	// Default 1.
	PerFrame int
	// Framing is json (default) or ndjson.
	Framing string
	// DialTimeout bounds each handshake. Default 10s.
	DialTimeout time.Duration
}

// WSPublisher publishes generated readings as JSON text frames over N
// WebSocket connections. Every object carries the series key, its
// sensor type and event time, since a WebSocket has no topic:
//
//	{"key":"d1/air/s-0","type":"air","ts":1763683200123,"pm25":12.4,…}
//
// A malformed message is always sent alone in its own frame, so that one
// rejected frame holds exactly the reading the ledger booked as malformed.
type WSPublisher struct {
	opts  WSOptions
	conns []*websocket.Conn
	Stats PubStats
}

// DialWS opens every connection (at most 64 handshakes at a time); it
// fails if any cannot be opened.
func DialWS(ctx context.Context, o WSOptions) (*WSPublisher, error) {
	if o.Connections <= 0 {
		o.Connections = 1
	}
	if o.PerFrame <= 0 {
		o.PerFrame = 1
	}
	if o.Framing == "" {
		o.Framing = FramingJSON
	}
	if o.Framing != FramingJSON && o.Framing != FramingNDJSON {
		return nil, fmt.Errorf("bench: unknown websocket framing %q (want json or ndjson)", o.Framing)
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	p := &WSPublisher{opts: o, conns: make([]*websocket.Conn, o.Connections)}
	hdr := http.Header{}
	if o.Token != "" {
		hdr.Set("Authorization", "Bearer "+o.Token)
	}
	d := websocket.Dialer{HandshakeTimeout: o.DialTimeout, WriteBufferSize: 16 << 10, ReadBufferSize: 1024}
	errs := make([]error, o.Connections)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range p.conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, resp, err := d.DialContext(ctx, o.URL, hdr)
			if err != nil {
				if resp != nil {
					err = fmt.Errorf("%w (HTTP %s)", err, resp.Status)
				}
				errs[i] = err
				return
			}
			p.conns[i] = c
			// Drain and discard whatever the server sends (pings are
			// answered by the default handler while reading).
			go func() {
				for {
					if _, _, err := c.NextReader(); err != nil {
						return
					}
				}
			}()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("bench: websocket connection %d to %s: %w", i, o.URL, err)
		}
	}
	return p, nil
}

// Connections returns the number of open connections.
func (p *WSPublisher) Connections() int { return len(p.conns) }

// Close closes every connection with a normal closure.
func (p *WSPublisher) Close() {
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	for _, c := range p.conns {
		if c != nil {
			_ = c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
			_ = c.Close()
		}
	}
}

// Run publishes l until its duration passes or ctx ends. Rate counts
// readings objects (messages), not frames.
func (p *WSPublisher) Run(ctx context.Context, l Load) (*PhaseResult, error) {
	if l.Sensors == nil || len(l.Sensors.Series) == 0 {
		return nil, errNoSeries
	}
	n := len(p.conns)
	if n > len(l.Sensors.Series) {
		n = len(l.Sensors.Series)
	}
	ctx, cancel := context.WithTimeout(ctx, l.Duration)
	defer cancel()
	ledgers := make([]*Ledger, n)
	res := &PhaseResult{Start: time.Now()}
	var wg sync.WaitGroup
	for w := 0; w < n; w++ {
		ledgers[w] = NewLedger(l.WindowMs)
		g := newGenerator(l.Sensors, l.Faults, w, n, ledgers[w], l.SampleEvery)
		g.minTs, g.wsKey = l.MinTs, true
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.worker(ctx, p.conns[w], g, NewPacer(l.Rate/float64(n)))
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(res.Start)
	res.Ledger = NewLedger(l.WindowMs)
	for _, led := range ledgers {
		res.Ledger.Merge(led)
	}
	return res, nil
}

func (p *WSPublisher) worker(ctx context.Context, c *websocket.Conn, g *generator, pc *Pacer) {
	k := p.opts.PerFrame
	ndjson := p.opts.Framing == FramingNDJSON
	frame := make([]byte, 0, 512*k)
	objs := 0
	broken := false
	flush := func() {
		if objs == 0 {
			return
		}
		if !ndjson && k > 1 {
			frame = append(frame, ']')
		}
		if !broken {
			if err := c.WriteMessage(websocket.TextMessage, frame); err != nil {
				broken = true
			}
		}
		if broken {
			p.Stats.Failed.Add(uint64(objs))
		}
		p.Stats.Frames.Add(1)
		g.led.Frames++
		frame, objs = frame[:0], 0
	}
	add := func(payload []byte) {
		if objs == 0 && !ndjson && k > 1 {
			frame = append(frame, '[')
		} else if objs > 0 {
			if ndjson {
				frame = append(frame, '\n')
			} else {
				frame = append(frame, ',')
			}
		}
		frame = append(frame, payload...)
		objs++
		if objs == k {
			flush()
		}
	}
	var pendingSince time.Time
	for {
		n, now, err := pc.Next(ctx, 64)
		if err != nil {
			break
		}
		nowMs := now.UnixMilli()
		if objs == 0 {
			pendingSince = now
		}
		sent := uint64(0)
		for range n {
			_, payload, dup := g.message(now, nowMs)
			sent++
			if g.lastKind == kindMalformed {
				// Alone in its frame: flush what is pending, send it, go on.
				flush()
				saved := k
				k = 1
				add(payload)
				k = saved
				continue
			}
			add(payload)
			if dup {
				add(payload)
				sent++
			}
		}
		p.Stats.Messages.Add(sent)
		// Frames fill up to PerFrame readings; a partial one waits at
		// most wsMaxBatchDelay, as a device batching readings would.
		if objs > 0 && now.Sub(pendingSince) >= wsMaxBatchDelay {
			flush()
		}
	}
	flush()
}

// wsMaxBatchDelay bounds how long a partial frame is held back.
const wsMaxBatchDelay = 100 * time.Millisecond

// appendKeyedJSON is the generic JSON payload with the series key and
// type, for transports without topics.
func appendKeyedJSON(dst []byte, s *Series, tsMs int64) []byte {
	dst = append(dst, `{"key":"`...)
	dst = append(dst, s.Key...)
	dst = append(dst, `","type":"`...)
	dst = append(dst, s.Type...)
	dst = append(dst, `","ts":`...)
	dst = strconv.AppendInt(dst, tsMs, 10)
	for i := range s.Profile.Fields {
		f := &s.Profile.Fields[i]
		dst = append(dst, `,"`...)
		dst = append(dst, f.Name...)
		dst = append(dst, `":`...)
		dst = appendValue(dst, f, s.Values[i])
	}
	return append(dst, '}')
}
