package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/valyala/fastjson"
)

// Collector consumes the aggregates topic from its start and keeps, per
// aggregate (series, field, window), the count of its highest revision and
// the record timestamp of its first emission (the lowest revision seen):
// the right-hand side of the reconciliation. Aggregates of series the
// sensor set does not know are counted in Foreign and otherwise ignored.
//
// Its methods are safe for concurrent use with the consuming goroutine.
type Collector struct {
	ss  *SensorSet
	cl  *kgo.Client
	mu  sync.Mutex
	agg map[aggKey]*aggState

	Records  atomic.Uint64 // records read
	Foreign  atomic.Uint64 // records of unknown series or fields
	Bad      atomic.Uint64 // values that are not aggregate JSON
	Counted  atomic.Uint64 // sum of count over the highest revisions
	LastRead atomic.Int64  // wall clock of the last record read, Unix ns
	// MaxLagMs is the largest delay from a record's timestamp (its
	// emission) to its reading here, in ms, since it was last reset: the
	// delivery delay an uplink outage adds.
	MaxLagMs atomic.Int64
	done     chan struct{}
}

type aggKey struct {
	series int32
	field  int32
	start  int64
}

type aggState struct {
	end      int64
	rev      uint64
	count    uint64
	firstRev uint64
	firstTs  int64 // record timestamp of firstRev, Unix ms
}

// NewCollector connects a consumer to brokers for topic. Run consumes.
func NewCollector(brokers []string, topic string, ss *SensorSet) (*Collector, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond),
		kgo.ClientID("edgebench-collector"))
	if err != nil {
		return nil, fmt.Errorf("bench: kafka consumer for %s: %w", topic, err)
	}
	return &Collector{ss: ss, cl: cl, agg: make(map[aggKey]*aggState, 1<<16), done: make(chan struct{})}, nil
}

// Run consumes until ctx ends, then closes the client.
func (c *Collector) Run(ctx context.Context) {
	defer close(c.done)
	defer c.cl.Close()
	var p fastjson.Parser
	for ctx.Err() == nil {
		fs := c.cl.PollFetches(ctx)
		if fs.IsClientClosed() {
			return
		}
		nowMs := time.Now().UnixMilli()
		var lag int64
		c.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) {
			c.add(&p, r)
			lag = max(lag, nowMs-r.Timestamp.UnixMilli())
		})
		c.mu.Unlock()
		atomicMax(&c.MaxLagMs, lag)
		if n := fs.NumRecords(); n > 0 {
			c.Records.Add(uint64(n))
			c.LastRead.Store(time.Now().UnixNano())
		}
	}
}

// Wait returns once Run has returned.
func (c *Collector) Wait() { <-c.done }

func (c *Collector) add(p *fastjson.Parser, r *kgo.Record) {
	v, err := p.ParseBytes(r.Value)
	if err != nil {
		c.Bad.Add(1)
		return
	}
	series := c.ss.Lookup(v.GetStringBytes("series"))
	field := c.ss.FieldIndex(v.GetStringBytes("field"))
	if series < 0 || field < 0 {
		c.Foreign.Add(1)
		return
	}
	k := aggKey{series: series, field: int32(field), start: v.GetInt64("start")}
	rev, count, ts := v.GetUint64("revision"), v.GetUint64("count"), r.Timestamp.UnixMilli()
	st := c.agg[k]
	if st == nil {
		c.agg[k] = &aggState{end: v.GetInt64("end"), rev: rev, count: count, firstRev: rev, firstTs: ts}
		c.Counted.Add(count)
		return
	}
	if rev > st.rev || (rev == st.rev && count != st.count) {
		// A re-fired window replaces its earlier count. Equal revisions
		// with another count should not happen; the later one wins.
		c.Counted.Add(count - st.count)
		st.rev, st.count = rev, count
	}
	if rev < st.firstRev || (rev == st.firstRev && ts < st.firstTs) {
		st.firstRev, st.firstTs = rev, ts
	}
}

// Counts returns, for the windows in cells, the readings counted in
// aggregates per series and window (summed over fields), and the first
// emission time per aggregate.
func (c *Collector) snapshot(cells map[CellKey]*Cell) (counted map[CellKey]uint64, first map[aggKey]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	counted = make(map[CellKey]uint64, len(cells))
	first = make(map[aggKey]int64, len(cells)*2)
	for k := range cells {
		ser := &c.ss.Series[k.Series]
		for _, f := range ser.Profile.Fields {
			fk := aggKey{series: k.Series, field: int32(c.ss.fields[f.Name]), start: k.Start}
			if st := c.agg[fk]; st != nil {
				counted[k] += st.count
				first[fk] = st.firstTs
			}
		}
	}
	return counted, first
}

// CountedIn returns the readings counted in aggregates of the windows in
// cells, summed.
func (c *Collector) CountedIn(cells map[CellKey]*Cell) uint64 {
	counted, _ := c.snapshot(cells)
	var n uint64
	for _, v := range counted {
		n += v
	}
	return n
}

// Observe records one aggregate directly, as if it had been read from
// Kafka with record timestamp tsMs. It exists for tests and for feeding a
// reconciliation from another source (a file of records).
func (c *Collector) Observe(series, field string, start, end int64, rev, count uint64, tsMs int64) {
	var p fastjson.Parser
	v := fmt.Sprintf(`{"series":%q,"field":%q,"start":%d,"end":%d,"revision":%d,"count":%d}`,
		series, field, start, end, rev, count)
	c.mu.Lock()
	c.add(&p, &kgo.Record{Value: []byte(v), Timestamp: time.UnixMilli(tsMs)})
	c.mu.Unlock()
	c.Records.Add(1)
}

// newOfflineCollector is a collector without a Kafka client, fed by
// Observe.
func newOfflineCollector(ss *SensorSet) *Collector {
	return &Collector{ss: ss, agg: make(map[aggKey]*aggState), done: make(chan struct{})}
}

// atomicMax raises a to v unless it is already at least v.
func atomicMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}
