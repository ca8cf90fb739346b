package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/edgeplane/edgeplane/internal/testenv"
)

const deadLetterConfig = `
gateway:
  id: gw-dead
  data_dir: %s
  http_listen: %s
kafka:
  brokers: ["127.0.0.1:9"]
sources:
  - name: ws-a
    type: websocket
    dead_letter: true
    websocket: {listen: "%s", path: /ingest/}
    decode: {topic_pattern: "city/{district}/{type}/{id}", fields: [{name: pm25}]}
  - name: ws-b
    type: websocket
    dead_letter: true
    websocket: {listen: "%s", path: /ingest/}
    decode: {topic_pattern: "city/{district}/{type}/{id}", fields: [{name: pm25}]}
pipelines:
  - name: air10
    from: [ws-a, ws-b]
    fields: [pm25]
    window: {type: tumbling, size: 10s}
    aggregates: [count]
    to: {topic: test.air}
`

// deadLine is a text line of `edgeplane deadletters`.
var deadLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z source=(\S+) topic=(\S+) reason=(\S+) bytes=(\d+) payload=(".*")( truncated=true)?$`)

// TestDeadletters: payloads two WebSocket sources reject are printed with
// their time, source, topic, reason and payload — from the running
// gateway through its read API, with --source, --json, --max-bytes and
// --follow, then from the stopped gateway's store in-process.
func TestDeadletters(t *testing.T) {
	dataDir := t.TempDir()
	wsA, wsB := testenv.FreeAddr(t), testenv.FreeAddr(t)
	f := writeConfig(t, fmt.Sprintf(deadLetterConfig, dataDir, testenv.FreeAddr(t), wsA, wsB))
	_, logs, stop := startRun(t, f)

	sendWS := func(addr, topic string, msgs ...string) {
		t.Helper()
		var c *websocket.Conn
		testenv.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
			var err error
			c, _, err = websocket.DefaultDialer.Dial("ws://"+addr+"/ingest/"+topic, nil)
			return err
		})
		defer c.Close()
		for _, m := range msgs {
			if err := c.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
				t.Fatal(err)
			}
		}
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	}
	// dl runs the command and returns its stdout lines.
	dl := func(args ...string) []string {
		t.Helper()
		code, out, errOut := runCLI(append([]string{"deadletters", "-c", f}, args...)...)
		if code != 0 {
			t.Fatalf("deadletters %v: exit %d\n%s%s", args, code, out, errOut)
		}
		return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	}
	var lines []string
	waitLines := func(n int) {
		t.Helper()
		testenv.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
			if lines = dl(); len(lines) < n {
				return fmt.Errorf("%d lines, want %d: %q", len(lines), n, lines)
			}
			return nil
		})
	}
	// The two sources' connections are read on their own goroutines, so
	// the order across them is fixed by waiting for ws-a's letters before
	// ws-b sends (CI saw ws-a's last letter after ws-b's).
	long := `{"pm25": ` + strings.Repeat("9", 600)
	sendWS(wsA, "city/d1/air/s-1", "not json", `{"pm25": 1}`, `{"no2": 3}`)
	waitLines(2)
	sendWS(wsB, "city/d2/air/s-2", `say "hi"`, long)
	waitLines(4)
	want := []string{
		`source=ws-a topic=city/d1/air/s-1 reason=malformed bytes=8 payload="not json"`,
		`source=ws-a topic=city/d1/air/s-1 reason=missing_field bytes=10 payload="{\"no2\": 3}"`,
		`source=ws-b topic=city/d2/air/s-2 reason=malformed bytes=8 payload="say \"hi\""`,
		`source=ws-b topic=city/d2/air/s-2 reason=malformed bytes=` + fmt.Sprint(len(long)) + ` payload="{\"pm25\": ` + strings.Repeat("9", 512-9) + `" truncated=true`,
	}
	check := func(what string, got, want []string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d lines, want %d:\n%s", what, len(got), len(want), strings.Join(got, "\n"))
		}
		for i := range got {
			if !deadLine.MatchString(got[i]) || !strings.HasSuffix(got[i], " "+want[i]) {
				t.Errorf("%s: line %d\n%s\nwant the time and\n%s", what, i, got[i], want[i])
			}
		}
	}
	check("all", lines, want)
	check("--source ws-b", dl("--source", "ws-b"), want[2:])
	check("--max-bytes 4", dl("--source", "ws-a", "--max-bytes", "4"), []string{
		`source=ws-a topic=city/d1/air/s-1 reason=malformed bytes=8 payload="not " truncated=true`,
		`source=ws-a topic=city/d1/air/s-1 reason=missing_field bytes=10 payload="{\"no" truncated=true`,
	})

	var js []dlJSON
	for _, l := range dl("--json", "--max-bytes", "0") {
		var j dlJSON
		if err := json.Unmarshal([]byte(l), &j); err != nil {
			t.Fatalf("--json: %q: %v", l, err)
		}
		js = append(js, j)
	}
	if len(js) != 4 || js[3].Payload != long || js[3].Bytes != len(long) || js[3].Truncated || js[1].Reason != "missing_field" ||
		js[2].Source != "ws-b" || js[0].Topic != "city/d1/air/s-1" || js[0].Seq >= js[1].Seq {
		t.Fatalf("--json: %+v", js)
	}
	if ts, err := time.Parse(time.RFC3339Nano, js[0].Time); err != nil || time.Since(ts) > time.Minute {
		t.Fatalf("--json time %q: %v", js[0].Time, err)
	}

	if code, _, errOut := runCLI("deadletters", "-c", f, "--source", "nope"); code != 1 || !strings.Contains(errOut, `no source "nope"`) {
		t.Fatalf("--source nope: exit %d %s", code, errOut)
	}
	// The same gateway without its HTTP listener: its store cannot be
	// reached while it runs, and the command says why.
	noListen := writeConfig(t, fmt.Sprintf(deadLetterConfig, dataDir, "\"off\"", wsA, wsB))
	if code, _, errOut := runCLI("deadletters", "-c", noListen); code != 1 || !strings.Contains(errOut, "gateway.http_listen is off") {
		t.Fatalf("running gateway without its HTTP listener: exit %d %s", code, errOut)
	}

	// --follow prints a dead letter that arrives while it runs.
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() { done <- cmdDeadletters(ctx, []string{"-c", f, "--follow", "--source", "ws-b"}, &out, &errOut) }()
	testenv.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := strings.Count(out.String(), "\n"); n != 2 {
			return fmt.Errorf("--follow: %d lines before the new one", n)
		}
		return nil
	})
	sendWS(wsB, "city/d2/air/s-3", "late news")
	newLine := `source=ws-b topic=city/d2/air/s-3 reason=malformed bytes=9 payload="late news"`
	testenv.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if !strings.Contains(out.String(), newLine) {
			return fmt.Errorf("--follow printed:\n%s", out.String())
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("--follow: %v\n%s", err, errOut.String())
	}

	// Stopped, the gateway's store is read in-process, under its lock.
	stop()
	if !strings.Contains(logs.String(), "gateway stopped") {
		t.Fatalf("gateway not stopped:\n%s", logs)
	}
	check("stopped", dl("--source", "ws-b"), append(want[2:], newLine))
	code, outS, errS := runCLI("deadletters", "-c", noListen, "--follow", "--source", "ws-a")
	if code != 0 || !strings.Contains(errS, "not running") || strings.Count(outS, "\n") != 2 {
		t.Fatalf("--follow, stopped: exit %d\n%s%s", code, outS, errS)
	}
}
