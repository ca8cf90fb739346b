package operators

import (
	"testing"

	"github.com/edgeplane/edgeplane/record"
)

// TestStateMemoryMatchesShard checks the estimate config validation uses
// against what NewShard really allocates: a built shard's stateBytes ×
// Shards, for each window kind, scope and stateless option that sizes
// state.
func TestStateMemoryMatchesShard(t *testing.T) {
	base := func() Config {
		return Config{Kind: record.Tumbling, Size: 60_000, OutOfOrder: 5_000, MaxSeries: 1000, Fields: 3, Shards: 2}
	}
	cases := map[string]func(*Config){
		"tumbling":  func(*Config) {},
		"hopping":   func(c *Config) { c.Kind, c.Advance = record.Hopping, 15_000 },
		"session":   func(c *Config) { c.Kind, c.Size, c.Gap = record.Session, 0, 30_000 },
		"series":    func(c *Config) { c.Watermark, c.IdleTimeout = SeriesScope, 30_000 },
		"quantiles": func(c *Config) { c.Quantiles = []float64{0.5, 0.99} },
		"sketch-cap": func(c *Config) {
			c.Quantiles, c.MaxSketchMemory = []float64{0.5}, 1<<20
		},
		"chain": func(c *Config) {
			c.Dedup = true
			c.Deadbands = []Deadband{{Field: AllFields, Threshold: 0.1}}
		},
		"session-series-budget": func(c *Config) {
			c.Kind, c.Size, c.Gap = record.Session, 0, 30_000
			c.Watermark, c.IdleTimeout, c.StateBudget, c.Shards = SeriesScope, 30_000, 777, 3
		},
	}
	for name, mod := range cases {
		c := base()
		mod(&c)
		sh, err := NewShard(&c, NewWatermarks(&c), &countEmitter{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		d := c.withDefaults()
		want := int64(sh.stateBytes()) * int64(d.Shards)
		m := c.StateMemory()
		if got := m.Total(); got != want {
			t.Errorf("%s: StateMemory %+v = %d B, built shard %d B × %d shards = %d B", name, m, got, sh.stateBytes(), d.Shards, want)
		}
		if (m.SketchPool() > 0) != (len(c.Quantiles) > 0) {
			t.Errorf("%s: sketches %d B with quantiles %v", name, m.SketchPool(), c.Quantiles)
		}
	}
	// The sketch cap bounds the pool: 1 MiB over 2 shards.
	c := base()
	c.Quantiles, c.MaxSketchMemory = []float64{0.5}, 1<<20
	if got := c.StateMemory().SketchPool(); got > 1<<20+(1<<20)/int64(sketchBytes)*4 {
		t.Errorf("sketches %d B, want about max_sketch_memory 1 MiB", got)
	}
}
