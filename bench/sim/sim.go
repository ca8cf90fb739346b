package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Options configure a Simulator.
type Options struct {
	// Broker is the MQTT broker URL.
	Broker string
	// ClientID of the publishing connection. Default "edgebench-sim".
	ClientID string
	// Types are profile names; default air, noise, traffic.
	Types []string
	// Districts and SensorsPerType shape the topics
	// city/d<N>/<type>/s-<M>. Defaults 3 and 20.
	Districts, SensorsPerType int
	// Rate is the total messages per second. Default 200.
	Rate float64
	// QoS is 0 or 1. Default 0.
	QoS byte
	// MaxDisorder shifts each reading's event time back by a random
	// amount up to this, so readings arrive out of order. Default 0.
	MaxDisorder time.Duration
	// Seed makes the values reproducible.
	Seed uint64
}

// Simulator publishes smart-city readings over MQTT at a steady rate.
type Simulator struct {
	opts    Options
	sensors []sensor
	rng     *rand.Rand
	Sent    atomic.Uint64
	Failed  atomic.Uint64
}

type sensor struct {
	topic   string
	profile *Profile
	values  []float64
}

// New prepares the sensors; Run connects and publishes.
func New(o Options) (*Simulator, error) {
	if o.Broker == "" {
		return nil, errors.New("sim: simulator needs a broker")
	}
	if o.ClientID == "" {
		o.ClientID = "edgebench-sim"
	}
	if len(o.Types) == 0 {
		o.Types = []string{"air", "noise", "traffic"}
	}
	if o.Districts <= 0 {
		o.Districts = 3
	}
	if o.SensorsPerType <= 0 {
		o.SensorsPerType = 20
	}
	if o.Rate <= 0 {
		o.Rate = 200
	}
	s := &Simulator{opts: o, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))}
	for _, t := range o.Types {
		p, ok := Profiles[t]
		if !ok {
			return nil, fmt.Errorf("sim: unknown sensor profile %q", t)
		}
		for d := 1; d <= o.Districts; d++ {
			for i := 1; i <= o.SensorsPerType; i++ {
				sn := sensor{topic: fmt.Sprintf("city/d%d/%s/s-%d", d, t, i), profile: &p}
				for _, f := range p.Fields {
					sn.values = append(sn.values, f.Base)
				}
				s.sensors = append(s.sensors, sn)
			}
		}
	}
	return s, nil
}

// Sensors returns how many sensors the simulator cycles through.
func (s *Simulator) Sensors() int { return len(s.sensors) }

// Run publishes until ctx ends.
func (s *Simulator) Run(ctx context.Context) error {
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(s.opts.Broker).SetClientID(s.opts.ClientID).
		SetCleanSession(true).SetAutoReconnect(true).SetConnectRetry(true).SetConnectTimeout(10 * time.Second))
	tok := c.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("sim: connect %s: %w", s.opts.Broker, err)
		}
	case <-ctx.Done():
		return nil
	}
	defer c.Disconnect(250)

	const tick = 10 * time.Millisecond
	perTick := s.opts.Rate * tick.Seconds()
	var owed float64
	next := 0
	t := time.NewTicker(tick)
	defer t.Stop()
	buf := make([]byte, 0, 256)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		owed += perTick
		for ; owed >= 1; owed-- {
			sn := &s.sensors[next]
			next = (next + 1) % len(s.sensors)
			buf = s.payload(buf[:0], sn, time.Now())
			pt := c.Publish(sn.topic, s.opts.QoS, false, append([]byte(nil), buf...))
			if s.opts.QoS == 0 {
				s.Sent.Add(1)
				continue
			}
			go func() {
				if pt.WaitTimeout(30*time.Second) && pt.Error() == nil {
					s.Sent.Add(1)
				} else {
					s.Failed.Add(1)
				}
			}()
		}
	}
}

// payload advances the sensor's values and encodes them as the generic
// JSON of PAYLOADS.md.
func (s *Simulator) payload(dst []byte, sn *sensor, now time.Time) []byte {
	ts := now.UnixMilli()
	if s.opts.MaxDisorder > 0 {
		ts -= s.rng.Int64N(s.opts.MaxDisorder.Milliseconds() + 1)
	}
	dst = append(dst, `{"id":"`...)
	dst = append(dst, sn.topic[len(sn.topic)-len(lastLevel(sn.topic)):]...)
	dst = append(dst, `","ts":`...)
	dst = strconv.AppendInt(dst, ts, 10)
	for i, f := range sn.profile.Fields {
		v := sn.values[i]
		if f.Counter {
			v += f.Step * (0.5 + s.rng.Float64())
		} else {
			v += f.Step * (s.rng.Float64()*2 - 1)
			v = math.Max(f.Min, math.Min(f.Max, v))
		}
		sn.values[i] = v
		if f.Decimals == 0 && !f.Counter {
			v = math.Round(v)
		}
		dst = append(dst, `,"`...)
		dst = append(dst, f.Name...)
		dst = append(dst, `":`...)
		dst = strconv.AppendFloat(dst, v, 'f', f.Decimals, 64)
	}
	return append(dst, '}')
}

func lastLevel(topic string) string {
	for i := len(topic) - 1; i >= 0; i-- {
		if topic[i] == '/' {
			return topic[i+1:]
		}
	}
	return topic
}
