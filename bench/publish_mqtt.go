package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// MQTTOptions configure an MQTTPublisher.
type MQTTOptions struct {
	// Broker is the broker URL (tcp://host:1883).
	Broker string
	// Connections is the number of client connections, each with its
	// own publishing goroutine and share of the series. Default 1.
	Connections int
	// QoS is 0 or 1.
	QoS byte
	// ClientPrefix names the clients <prefix>-<n>. Default "edgebench".
	ClientPrefix       string
	Username, Password string
	// MaxInflight bounds the unacknowledged QoS 1 publishes per
	// connection: the publisher waits for acks beyond it. Default 1024.
	MaxInflight int
}

// MQTTPublisher publishes generated readings over N paho connections.
type MQTTPublisher struct {
	opts    MQTTOptions
	clients []mqtt.Client
	Stats   PubStats
}

// DialMQTT connects every client; it fails if any cannot connect.
func DialMQTT(ctx context.Context, o MQTTOptions) (*MQTTPublisher, error) {
	if o.Connections <= 0 {
		o.Connections = 1
	}
	if o.ClientPrefix == "" {
		o.ClientPrefix = "edgebench"
	}
	if o.MaxInflight <= 0 {
		o.MaxInflight = 1024
	}
	p := &MQTTPublisher{opts: o, clients: make([]mqtt.Client, o.Connections)}
	errs := make([]error, o.Connections)
	var wg sync.WaitGroup
	for i := range p.clients {
		opts := mqtt.NewClientOptions().AddBroker(o.Broker).SetClientID(o.ClientPrefix + "-" + strconv.Itoa(i)).
			SetCleanSession(true).SetAutoReconnect(true).SetOrderMatters(false).
			SetConnectTimeout(10 * time.Second).SetKeepAlive(30 * time.Second)
		if o.Username != "" {
			opts.SetUsername(o.Username).SetPassword(o.Password)
		}
		c := mqtt.NewClient(opts)
		p.clients[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := c.Connect()
			select {
			case <-tok.Done():
				errs[i] = tok.Error()
			case <-ctx.Done():
				errs[i] = ctx.Err()
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("bench: mqtt connection %d to %s: %w", i, o.Broker, err)
		}
	}
	return p, nil
}

// Connections returns the number of client connections.
func (p *MQTTPublisher) Connections() int { return len(p.clients) }

// Close disconnects every client.
func (p *MQTTPublisher) Close() {
	var wg sync.WaitGroup
	for _, c := range p.clients {
		wg.Add(1)
		go func() { defer wg.Done(); c.Disconnect(250) }()
	}
	wg.Wait()
}

// Run publishes l until its duration passes or ctx ends, and returns what
// was sent. With QoS 1 it returns once every publish was acknowledged or
// failed.
func (p *MQTTPublisher) Run(ctx context.Context, l Load) (*PhaseResult, error) {
	if l.Sensors == nil || len(l.Sensors.Series) == 0 {
		return nil, errNoSeries
	}
	n := len(p.clients)
	if n > len(l.Sensors.Series) {
		n = len(l.Sensors.Series)
	}
	ctx, cancel := context.WithTimeout(ctx, l.Duration)
	defer cancel()
	ledgers := make([]*Ledger, n)
	fails := make([]*Ledger, n)
	res := &PhaseResult{Start: time.Now()}
	var wg sync.WaitGroup
	for w := 0; w < n; w++ {
		ledgers[w] = NewLedger(l.WindowMs)
		fails[w] = NewLedger(l.WindowMs)
		g := newGenerator(l.Sensors, l.Faults, w, n, ledgers[w], l.SampleEvery)
		g.minTs = l.MinTs
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.worker(ctx, p.clients[w], g, NewPacer(l.Rate/float64(n)), fails[w])
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(res.Start)
	res.Ledger = NewLedger(l.WindowMs)
	for w := range ledgers {
		res.Ledger.Merge(ledgers[w])
		res.Ledger.Merge(fails[w])
	}
	return res, nil
}

// pending is a QoS 1 publish awaiting its ack.
type pending struct {
	tok    mqtt.Token
	series int32
	start  int64
}

func (p *MQTTPublisher) worker(ctx context.Context, c mqtt.Client, g *generator, pc *Pacer, fails *Ledger) {
	var (
		sl       slab
		inflight chan pending
		done     chan struct{}
	)
	if p.opts.QoS > 0 {
		inflight = make(chan pending, p.opts.MaxInflight)
		done = make(chan struct{})
		go func() {
			defer close(done)
			for pd := range inflight {
				if !pd.tok.WaitTimeout(30*time.Second) || pd.tok.Error() != nil {
					fails.cell(pd.series, pd.start).Failed++
					p.Stats.Failed.Add(1)
				}
			}
		}()
	}
	qos := p.opts.QoS
	for {
		k, now, err := pc.Next(ctx, 64)
		if err != nil {
			break
		}
		nowMs := now.UnixMilli()
		var sent uint64
		for range k {
			s, payload, dup := g.message(now, nowMs)
			copies := 1
			if dup {
				copies = 2
			}
			for range copies {
				tok := c.Publish(s.Topic, qos, false, sl.copy(payload))
				sent++
				if inflight != nil {
					inflight <- pending{tok: tok, series: int32(s.Index), start: g.led.WindowStart(g.lastTs)}
					continue
				}
				select {
				case <-tok.Done():
					if tok.Error() != nil {
						fails.cell(int32(s.Index), g.led.WindowStart(g.lastTs)).Failed++
						p.Stats.Failed.Add(1)
					}
				default:
				}
			}
		}
		p.Stats.Messages.Add(sent)
		p.Stats.Frames.Add(sent)
		g.led.Frames += sent
	}
	if inflight != nil {
		close(inflight)
		<-done
	}
}
