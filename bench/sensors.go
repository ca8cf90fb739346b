package bench

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/edgeplane/edgeplane/bench/sim"
)

// Payload formats the generators encode (PAYLOADS.md).
const (
	FormatJSON  = "json"  // generic JSON: {"id":…,"ts":<ms>,<field>:<v>,…}
	FormatSenML = "senml" // SenML pack, one record per field, bt in seconds
	FormatTTN   = "ttn"   // The Things Stack v3 uplink, ~1 KB, time in received_at
)

// SensorSpec shapes a set of simulated series.
type SensorSpec struct {
	// Series is the number of distinct series (sensors). Default 100.
	Series int `yaml:"series" json:"series"`
	// Types are profile names (Profiles), assigned round robin. Default
	// air, noise, traffic, meter, parking.
	Types []string `yaml:"types" json:"types"`
	// Districts spread the series over city/d<N>/… topics. Default 10.
	Districts int `yaml:"districts" json:"districts"`
	// Format is json (default), senml or ttn.
	Format string `yaml:"format" json:"format"`
	// Skew gives every series a fixed event-time offset drawn uniformly
	// from [-Skew, +Skew]: sensor clocks that disagree with the gateway's.
	// Default 0.
	Skew Duration `yaml:"skew" json:"skew"`
	// Seed makes values and fault choices reproducible. Default 1.
	Seed uint64 `yaml:"seed" json:"seed"`
}

func (s *SensorSpec) defaults() {
	if s.Series <= 0 {
		s.Series = 100
	}
	if len(s.Types) == 0 {
		s.Types = []string{"air", "noise", "traffic", "meter", "parking"}
	}
	if s.Districts <= 0 {
		s.Districts = 10
	}
	if s.Format == "" {
		s.Format = FormatJSON
	}
	if s.Seed == 0 {
		s.Seed = 1
	}
}

// Series is one simulated sensor. Its mutable state (Values) belongs to
// the one generator worker the series is assigned to.
type Series struct {
	Index    int
	Type     string
	District int
	// ID is the sensor id (topic's last level, TTN device id).
	ID string
	// Key is the series key edgeplane derives with the configs this
	// package builds (GatewayConfig): "d<N>/<type>/<id>" for json and
	// senml, the device id for ttn.
	Key string
	// Topic is the MQTT topic it publishes on.
	Topic   string
	Profile *sim.Profile
	SkewMs  int64
	Values  []float64
}

// SensorSet is the series of a run, indexed by Series.Index.
type SensorSet struct {
	Spec   SensorSpec
	Series []Series
	byKey  map[string]int32
	fields map[string]int // field name → index in Fields
	Fields []string
}

// NewSensorSet builds spec's series.
func NewSensorSet(spec SensorSpec) (*SensorSet, error) {
	spec.defaults()
	switch spec.Format {
	case FormatJSON, FormatSenML, FormatTTN:
	default:
		return nil, fmt.Errorf("bench: unknown payload format %q (want json, senml or ttn)", spec.Format)
	}
	ss := &SensorSet{Spec: spec, byKey: make(map[string]int32, spec.Series), fields: map[string]int{}}
	rng := rand.New(rand.NewPCG(spec.Seed, 7))
	profs := make([]*sim.Profile, len(spec.Types))
	for i, t := range spec.Types {
		p, ok := sim.Profiles[t]
		if !ok {
			return nil, fmt.Errorf("bench: unknown sensor profile %q", t)
		}
		profs[i] = &p
		for _, f := range p.Fields {
			if _, ok := ss.fields[f.Name]; !ok {
				ss.fields[f.Name] = len(ss.Fields)
				ss.Fields = append(ss.Fields, f.Name)
			}
		}
	}
	ss.Series = make([]Series, spec.Series)
	for i := range ss.Series {
		p := profs[i%len(profs)]
		d := 1 + (i/len(profs))%spec.Districts
		s := Series{Index: i, Type: p.Type, District: d, ID: "s-" + strconv.Itoa(i), Profile: p}
		switch spec.Format {
		case FormatTTN:
			s.ID = fmt.Sprintf("d%d-%s-s-%d", d, p.Type, i)
			s.Key = s.ID
			s.Topic = "v3/" + p.Type + "@city/devices/" + s.ID + "/up"
		default:
			s.Key = fmt.Sprintf("d%d/%s/%s", d, p.Type, s.ID)
			s.Topic = fmt.Sprintf("city/d%d/%s/%s", d, p.Type, s.ID)
		}
		if sk := spec.Skew.D().Milliseconds(); sk > 0 {
			s.SkewMs = rng.Int64N(2*sk+1) - sk
		}
		for _, f := range p.Fields {
			s.Values = append(s.Values, f.Base)
		}
		ss.Series[i] = s
		ss.byKey[s.Key] = int32(i)
	}
	return ss, nil
}

// Lookup returns the index of the series with key k, or -1. It does not
// allocate for a []byte converted in the call (m[string(b)]).
func (ss *SensorSet) Lookup(k []byte) int32 {
	if i, ok := ss.byKey[string(k)]; ok {
		return i
	}
	return -1
}

// FieldIndex returns the index of field name in ss.Fields, or -1.
func (ss *SensorSet) FieldIndex(name []byte) int {
	if i, ok := ss.fields[string(name)]; ok {
		return i
	}
	return -1
}

// Readings returns how many readings (fields) one message of series i
// carries.
func (ss *SensorSet) Readings(i int32) int { return len(ss.Series[i].Profile.Fields) }

// Types returns the distinct profiles in the set, in spec order.
func (ss *SensorSet) Types() []*sim.Profile {
	var out []*sim.Profile
	seen := map[string]bool{}
	for i := range ss.Series {
		p := ss.Series[i].Profile
		if !seen[p.Type] {
			seen[p.Type] = true
			out = append(out, p)
		}
	}
	return out
}

// advance moves the series' values one step with rng.
func (s *Series) advance(rng *rand.Rand) {
	for i, f := range s.Profile.Fields {
		v := s.Values[i]
		if f.Counter {
			v += f.Step * (0.5 + rng.Float64())
		} else {
			v += f.Step * (rng.Float64()*2 - 1)
			v = math.Max(f.Min, math.Min(f.Max, v))
		}
		s.Values[i] = v
	}
}

func appendValue(dst []byte, f *sim.FieldGen, v float64) []byte {
	if f.Decimals == 0 && !f.Counter {
		v = math.Round(v)
	}
	return strconv.AppendFloat(dst, v, 'f', f.Decimals, 64)
}

// AppendPayload appends s's current values, stamped with event time tsMs,
// in format to dst.
func AppendPayload(dst []byte, format string, s *Series, tsMs int64) []byte {
	switch format {
	case FormatSenML:
		return appendSenML(dst, s, tsMs)
	case FormatTTN:
		return appendTTN(dst, s, tsMs)
	default:
		return appendJSON(dst, s, tsMs)
	}
}

func appendJSON(dst []byte, s *Series, tsMs int64) []byte {
	dst = append(dst, `{"id":"`...)
	dst = append(dst, s.ID...)
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

func appendSenML(dst []byte, s *Series, tsMs int64) []byte {
	dst = append(dst, `[{"bn":"urn:dev:edgebench:`...)
	dst = append(dst, s.ID...)
	dst = append(dst, `:","bt":`...)
	dst = strconv.AppendInt(dst, tsMs/1000, 10)
	dst = append(dst, '.')
	ms := tsMs % 1000
	if ms < 0 {
		ms += 1000
	}
	dst = append(dst, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	for i := range s.Profile.Fields {
		f := &s.Profile.Fields[i]
		if i > 0 {
			dst = append(dst, `},{`...)
		} else {
			dst = append(dst, ',')
		}
		dst = append(dst, `"n":"`...)
		dst = append(dst, f.Name...)
		dst = append(dst, `","v":`...)
		dst = appendValue(dst, f, s.Values[i])
	}
	return append(dst, `}]`...)
}

const ttnTime = "2006-01-02T15:04:05.000Z07:00"

func appendTTN(dst []byte, s *Series, tsMs int64) []byte {
	t := time.UnixMilli(tsMs).UTC()
	dst = append(dst, `{"end_device_ids":{"device_id":"`...)
	dst = append(dst, s.ID...)
	dst = append(dst, `","application_ids":{"application_id":"`...)
	dst = append(dst, s.Type...)
	dst = append(dst, `"},"dev_eui":"0004A30B001C`...)
	dst = strconv.AppendInt(dst, int64(s.Index%10000+10000), 16)
	dst = append(dst, `","join_eui":"0000000000000000","dev_addr":"260B1234"},"correlation_ids":["as:up:01EDGEBENCH0000000000000000"],"received_at":"`...)
	// received_at, the decoder's default time, is the booked event time;
	// the radio gateway received the uplink 227 ms before, the network
	// server 97 ms before.
	dst = t.AppendFormat(dst, ttnTime)
	dst = append(dst, `","uplink_message":{"session_key_id":"AXA50ZWIvdGVzdA==","f_port":1,"f_cnt":`...)
	dst = strconv.AppendInt(dst, tsMs/1000%65536, 10)
	dst = append(dst, `,"frm_payload":"gkHeAAE=","decoded_payload":{`...)
	for i := range s.Profile.Fields {
		f := &s.Profile.Fields[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, f.Name...)
		dst = append(dst, `":`...)
		dst = appendValue(dst, f, s.Values[i])
	}
	dst = append(dst, `},"rx_metadata":[{"gateway_ids":{"gateway_id":"gtw-edgebench","eui":"B827EBFFFE000001"},"time":"`...)
	dst = t.Add(-227*time.Millisecond).AppendFormat(dst, ttnTime)
	dst = append(dst, `","timestamp":2463457000,"rssi":-35,"channel_rssi":-35,"snr":5.2,"uplink_token":"ChIKEAoOZ3R3LWVkZ2ViZW5jaBDo8Mx7GgsI0vKcwQYQ+Mz0TyDAhaGV9gI=","channel_index":2}],`...)
	dst = append(dst, `"settings":{"data_rate":{"lora":{"bandwidth":125000,"spreading_factor":7,"coding_rate":"4/5"}},"frequency":"868500000","timestamp":2463457000},"received_at":"`...)
	dst = t.Add(-97*time.Millisecond).AppendFormat(dst, ttnTime)
	dst = append(dst, `","consumed_airtime":"0.056576s","network_ids":{"net_id":"000013","tenant_id":"city","cluster_id":"eu1","cluster_address":"eu1.cloud.thethings.network"}}}`...)
	return dst
}

// errNoSeries is returned when a generator has no series to publish.
var errNoSeries = errors.New("bench: no series to publish")
