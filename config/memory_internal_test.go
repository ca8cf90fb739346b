package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/ring"
)

const memoryBase = `gateway: {id: gw1, data_dir: %DIR%%GW%}
kafka: {brokers: ["127.0.0.1:9092"]}
sources:
  - name: s1
    mqtt: {broker: "tcp://127.0.0.1:1883", topics: ["city/#"]}
    decode: {time_path: ts, fields: [{name: a}, {name: b}]}
pipelines:
  - {name: p1, from: [s1], window: {size: 10s}%P1%}
  - {name: p2, from: [s1], window: {size: 1m}, aggregates: [count, p99], ring: {shards: 2}}
`

func loadMemory(t *testing.T, gw, p1 string) (*Config, error) {
	t.Helper()
	withFree(t, 100<<30)
	src := strings.NewReplacer("%DIR%", t.TempDir(), "%GW%", gw, "%P1%", p1).Replace(memoryBase)
	return LoadBytes("memory.yaml", []byte(src), nil)
}

// TestMemoryEstimate: the estimate of a compiled config is its pipelines'
// operators.StateMemory and ring.MPSCMaxBytes × shards, plus the fixed
// part; the default limit is 256 MiB and the default pipelines fit it.
func TestMemoryEstimate(t *testing.T) {
	c, err := loadMemory(t, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Gateway.MemoryLimit != DefaultMemoryLimit || DefaultMemoryLimit != 256<<20 {
		t.Fatalf("memory_limit %d, want the default 256 MiB", c.Gateway.MemoryLimit)
	}
	cc, err := Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	m := cc.Memory()
	if m.Limit != 256<<20 || m.Fixed != FixedMemory(256<<20) || len(m.Pipelines) != 2 {
		t.Fatalf("estimate %+v", m)
	}
	var state int64
	for i, p := range m.Pipelines {
		pp := cc.Pipelines[i]
		if p.Windows()+p.Sketches() != pp.Operators.StateBytes() {
			t.Errorf("%s: windows %d + sketches %d, operators say %d", p.Name, p.Windows(), p.Sketches(), pp.Operators.StateBytes())
		}
		if want := int64(pp.Shards) * ring.MPSCMaxBytes[record.Sample](pp.Ring); p.Rings() != want {
			t.Errorf("%s: rings %d, want %d", p.Name, p.Rings(), want)
		}
		state += p.Total()
	}
	// p1: 10000 series × 2 fields, one shard; default ring 8192 records
	// of 32 B with a 48 B shared slot and 8 lanes: 2.4 MiB a shard.
	if got := m.Pipelines[0].Rings(); got != 8192*(48+8*32) {
		t.Errorf("p1 rings %d B, want 8192 × (48 + 8 × 32)", got)
	}
	if m.Pipelines[0].Sketches() != 0 || m.Pipelines[1].Sketches() == 0 {
		t.Errorf("sketches: p1 %d (no quantiles), p2 %d (p99)", m.Pipelines[0].Sketches(), m.Pipelines[1].Sketches())
	}
	if m.State() != state || m.Total() != state+FixedMemory(256<<20) || m.Total() > m.Limit {
		t.Errorf("state %d, total %d, limit %d", m.State(), m.Total(), m.Limit)
	}
}

// TestMemoryBudget: validation refuses bounds that cannot fit
// gateway.memory_limit, showing the arithmetic, and accepts them once the
// limit is raised.
func TestMemoryBudget(t *testing.T) {
	refused := func(gw, p1 string, want ...string) {
		t.Helper()
		_, err := loadMemory(t, gw, p1)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%q %q: %v, want a config error", gw, p1, err)
		}
		for _, p := range e.Problems {
			if p.Path != "gateway.memory_limit" {
				continue
			}
			for _, w := range want {
				if !strings.Contains(p.Msg, w) {
					t.Errorf("%q %q: %q\nwant %q in it", gw, p1, p.Msg, w)
				}
			}
			return
		}
		t.Fatalf("%q %q: no gateway.memory_limit problem in %v", gw, p1, err)
	}
	// 2 000 000 series × 2 fields: 4 000 000 keys of 44 B (list, cursor, index,
	// timer) and window slots (2 slots a key + 1/8 + 64) slots.
	big := ", max_series: 2000000"
	refused("", big,
		"p1: windows ", "(1 shard × (max_series 2000000 × fields 2 = 4000000 keys × 44 B + 9000064 window slots × ",
		"p2: windows ", ", sketches ", "(2 shards × a pool of ", ", rings 4.8 MiB (2 shards × 2.4 MiB, every producer lane taken)",
		"+ 32.0 MiB fixed (runtime, nats-server, franz-go)", "> gateway.memory_limit 256.0 MiB",
		"lower max_series", "raise memory_limit to at least 17")
	// The least limit the message names fits, though the fixed part grows
	// with the limit (franz-go's buffer), and one MiB less does not.
	_, err := loadMemory(t, "", big)
	m := regexp.MustCompile(`at least (\d+)MiB`).FindStringSubmatch(fmt.Sprint(err))
	if m == nil {
		t.Fatalf("no least limit in %v", err)
	}
	least, _ := strconv.Atoi(m[1])
	if _, err := loadMemory(t, fmt.Sprintf(", memory_limit: %dMiB", least), big); err != nil {
		t.Errorf("the least limit %d MiB: %v", least, err)
	}
	if _, err := loadMemory(t, fmt.Sprintf(", memory_limit: %dMiB", least-1), big); err == nil {
		t.Errorf("%d MiB, one less than the least limit, accepted", least-1)
	}
	if _, err := loadMemory(t, ", memory_limit: 4GiB", big); err != nil {
		t.Errorf("max_series 2000000 under memory_limit 4GiB: %v", err)
	}
	// The fixed part alone does not fit 40 MiB.
	refused(", memory_limit: 40MiB", "", "+ 24.0 MiB fixed", "> gateway.memory_limit 40.0 MiB")
	refused(", memory_limit: 0", "", "0, want a size")
}
