package bench

import (
	"fmt"

	"github.com/edgeplane/edgeplane/internal/testenv"

	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wsSink is a tiny WebSocket endpoint standing in for the gateway's: it
// checks the bearer token and counts the readings objects per series key
// in JSON, JSON-array and NDJSON frames.
type wsSink struct {
	token string
	mu    sync.Mutex
	keys  map[string]int
	bad   int
	conns int
	// frames counts frames by the number of objects they held.
	frames map[int]int
}

func (s *wsSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+s.token {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	up := websocket.Upgrader{}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	s.mu.Lock()
	s.conns++
	s.mu.Unlock()
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		var objs []json.RawMessage
		switch {
		case bytes.HasPrefix(msg, []byte("[")):
			if json.Unmarshal(msg, &objs) != nil {
				objs = nil
			}
		default:
			sc := bufio.NewScanner(bytes.NewReader(msg))
			for sc.Scan() {
				objs = append(objs, append(json.RawMessage(nil), sc.Bytes()...))
			}
		}
		s.mu.Lock()
		if len(objs) == 0 {
			s.bad++
		}
		s.frames[len(objs)]++
		for _, o := range objs {
			var v struct {
				Key string `json:"key"`
				TS  int64  `json:"ts"`
			}
			if json.Unmarshal(o, &v) != nil || v.Key == "" || v.TS == 0 {
				s.bad++
				continue
			}
			s.keys[v.Key]++
		}
		s.mu.Unlock()
	}
}

func TestWSPublisher(t *testing.T) {
	ss, err := NewSensorSet(SensorSpec{Series: 40, Types: []string{"air", "meter"}})
	if err != nil {
		t.Fatal(err)
	}
	f := func(framing string, perFrame int, malformed float64) {
		t.Helper()
		sink := &wsSink{token: "s3cret", keys: map[string]int{}, frames: map[int]int{}}
		srv := httptest.NewServer(sink)
		defer srv.Close()
		url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ingest"
		ctx := context.Background()
		if _, err := DialWS(ctx, WSOptions{URL: url, Token: "wrong", Connections: 1}); err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("bad token: %v", err)
		}
		p, err := DialWS(ctx, WSOptions{URL: url, Token: "s3cret", Connections: 8, PerFrame: perFrame, Framing: framing})
		if err != nil {
			t.Fatal(err)
		}
		res, err := p.Run(ctx, Load{Sensors: ss, Rate: 4000, Duration: 500 * time.Millisecond, WindowMs: 1000,
			Faults: Faults{Malformed: malformed, Duplicate: 0.05}})
		if err != nil {
			t.Fatal(err)
		}
		p.Close()
		tot := res.Ledger.Totals(ss)
		wantGood := tot.SentMessages - tot.MalformedMessages
		// Let the server read the last frames.
		testenv.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
			sink.mu.Lock()
			defer sink.mu.Unlock()
			got := 0
			for _, n := range sink.keys {
				got += n
			}
			if uint64(got) != wantGood || uint64(sink.bad) != tot.MalformedMessages {
				return fmt.Errorf("%s/%d: server read %d good objects and %d bad frames, ledger says %d good, %d malformed",
					framing, perFrame, got, sink.bad, wantGood, tot.MalformedMessages)
			}
			return nil
		})
		if sink.conns != 8 {
			t.Errorf("%d connections, want 8", sink.conns)
		}
		if res.Ledger.Frames >= res.Ledger.Messages && perFrame > 1 {
			t.Errorf("%s/%d: %d frames for %d messages: no batching", framing, perFrame, res.Ledger.Frames, res.Ledger.Messages)
		}
		for n := range sink.frames {
			if n > perFrame {
				t.Errorf("%s/%d: a frame held %d objects", framing, perFrame, n)
			}
		}
	}
	f(FramingJSON, 1, 0)
	f(FramingJSON, 5, 0.02)
	f(FramingNDJSON, 4, 0.02)
}
