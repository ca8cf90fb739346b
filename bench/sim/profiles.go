package sim

import "time"

// Profile is a kind of city sensor: its topic segment and how its fields
// evolve.
type Profile struct {
	Type   string
	Fields []FieldGen
	// Interval is how often a real sensor of this kind reports.
	Interval time.Duration
}

// FieldGen generates one numeric field: a random walk around Base within
// [Min, Max], or a monotonic counter when Counter is set.
type FieldGen struct {
	Name       string
	Base, Step float64
	Min, Max   float64
	Counter    bool
	Decimals   int
}

// Profiles are the built-in sensor kinds, after PAYLOADS.md. The
// generators cycle through their series at the offered rate, so a
// profile's natural reporting interval (Interval) is documentation and a
// guide for scenarios, not a pacing rule: smart meters report at 1 Hz,
// air quality every ~145 s, traffic loops every 30 s.
var Profiles = map[string]Profile{
	"air": {Type: "air", Interval: 145 * time.Second, Fields: []FieldGen{
		{Name: "pm25", Base: 12, Step: 0.8, Min: 0, Max: 300, Decimals: 1},
		{Name: "pm10", Base: 20, Step: 1.2, Min: 0, Max: 500, Decimals: 1},
		{Name: "temp", Base: 18, Step: 0.1, Min: -30, Max: 50, Decimals: 1},
		{Name: "hum", Base: 55, Step: 0.5, Min: 0, Max: 100, Decimals: 1},
	}},
	"noise": {Type: "noise", Interval: time.Minute, Fields: []FieldGen{
		{Name: "laeq", Base: 58, Step: 2, Min: 30, Max: 110, Decimals: 1},
		{Name: "lamax", Base: 70, Step: 3, Min: 30, Max: 130, Decimals: 1},
	}},
	"traffic": {Type: "traffic", Interval: 30 * time.Second, Fields: []FieldGen{
		{Name: "vehicles", Base: 8, Step: 3, Min: 0, Max: 60, Decimals: 0},
		{Name: "avg_speed_kmh", Base: 40, Step: 4, Min: 0, Max: 120, Decimals: 0},
	}},
	"parking": {Type: "parking", Interval: time.Hour, Fields: []FieldGen{
		{Name: "occupied", Base: 0.5, Step: 1, Min: 0, Max: 1, Decimals: 0},
	}},
	"meter": {Type: "meter", Interval: time.Second, Fields: []FieldGen{
		{Name: "energy_kwh", Base: 1000, Step: 0.002, Counter: true, Decimals: 3},
		{Name: "power_w", Base: 450, Step: 40, Min: 0, Max: 11000, Decimals: 0},
	}},
}
