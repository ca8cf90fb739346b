package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// A bareSub is the baseline's subscriber: it counts the messages it
// received. proc is its process for CPU and memory figures, nil when it
// runs inside edgebench (whose figures would include the generator).
type bareSub interface {
	count() uint64
	proc() Proc
	close()
}

// inProcSub is a paho subscriber in this process that only counts.
type inProcSub struct {
	n atomic.Uint64
	c mqtt.Client
}

func newInProcSub(broker, filter string, qos int) (*inProcSub, error) {
	s := &inProcSub{}
	c, err := bareSubscribe(broker, "edgebench-baseline-sub", filter, qos, func(mqtt.Client, mqtt.Message) { s.n.Add(1) })
	if err != nil {
		return nil, fmt.Errorf("bench: baseline subscriber: %w", err)
	}
	s.c = c
	return s, nil
}

// bareSubscribe connects a clean-session paho client as id to broker and
// subscribes it to filter with h.
func bareSubscribe(broker, id, filter string, qos int, h mqtt.MessageHandler) (mqtt.Client, error) {
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID(id).
		SetCleanSession(true).SetOrderMatters(false).SetConnectTimeout(10 * time.Second))
	if tok := c.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("connect %s: %v", broker, tok.Error())
	}
	if tok := c.Subscribe(filter, byte(qos), h); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		c.Disconnect(250)
		return nil, fmt.Errorf("subscribe %s: %v", filter, tok.Error())
	}
	return c, nil
}

func (s *inProcSub) count() uint64 { return s.n.Load() }
func (s *inProcSub) proc() Proc    { return nil }
func (s *inProcSub) close()        { s.c.Disconnect(250) }

// procSub is the subscriber of Subscribe run as a child process (command
// cmd, normally `edgebench subscribe`): it reports its count on stdout.
type procSub struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	n     atomic.Uint64
	done  chan struct{}
}

func newProcSub(ctx context.Context, cmd []string, broker, filter string, qos int) (*procSub, error) {
	c := exec.Command(cmd[0], append(cmd[1:], "-broker", broker, "-topic", filter, "-qos", strconv.Itoa(qos))...)
	stdin, err := c.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := c.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("bench: baseline subscriber %v: %w", cmd, err)
	}
	s := &procSub{cmd: c, stdin: stdin, done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if line == "ready" {
				close(ready)
				continue
			}
			if v, ok := strings.CutPrefix(line, "n "); ok {
				if n, err := strconv.ParseUint(v, 10, 64); err == nil {
					s.n.Store(n)
				}
			}
		}
	}()
	select {
	case <-ready:
		return s, nil
	case <-s.done:
		_ = c.Wait()
		return nil, fmt.Errorf("bench: baseline subscriber exited before subscribing: %s", stderr.String())
	case <-time.After(20 * time.Second):
	case <-ctx.Done():
	}
	s.close()
	return nil, errors.New("bench: baseline subscriber did not subscribe within 20 s")
}

func (s *procSub) count() uint64 { return s.n.Load() }
func (s *procSub) proc() Proc    { return PidProc{s.cmd.Process.Pid} }
func (s *procSub) close() {
	_ = s.stdin.Close() // Subscribe exits at EOF on stdin
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
	}
	_ = s.cmd.Wait()
}

// Subscribe is `edgebench subscribe`: the bare subscriber of the
// baseline, as a process of its own so that its CPU and memory can be
// measured apart from the generator. It subscribes to filter on broker
// with paho, decodes each payload with encoding/json — what the simplest
// subscriber that reads its messages does, and no more — and writes
// "ready" once subscribed, then "n <count>" lines every 50 ms while the
// count moves. It returns when stdin reaches EOF.
func Subscribe(broker, filter string, qos int, stdin io.Reader, stdout io.Writer) error {
	var n atomic.Uint64
	handler := func(_ mqtt.Client, m mqtt.Message) {
		var v map[string]any
		_ = json.Unmarshal(m.Payload(), &v) // the work a reading subscriber does; malformed payloads too
		n.Add(1)
	}
	c, err := bareSubscribe(broker, fmt.Sprintf("edgebench-bare-%d", time.Now().UnixNano()), filter, qos, handler)
	if err != nil {
		return err
	}
	defer c.Disconnect(250)
	w := bufio.NewWriter(stdout)
	fmt.Fprintln(w, "ready")
	_ = w.Flush()
	eof := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, stdin); close(eof) }()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	last := ^uint64(0)
	for {
		select {
		case <-eof:
			fmt.Fprintf(w, "n %d\n", n.Load())
			return w.Flush()
		case <-t.C:
			if cur := n.Load(); cur != last {
				last = cur
				fmt.Fprintf(w, "n %d\n", cur)
				if err := w.Flush(); err != nil {
					return err
				}
			}
		}
	}
}
