package operators

import (
	"math"
	"unsafe"
)

// sparseBins is how many distinct buckets a window's quantiles keep in
// its sparseSketch before they move to a dense Sketch of the shard's pool.
// A 1 s window of a sensor reporting every second holds one value; a
// minute of readings that move within ±15 % spans about 14 buckets at
// α = 1 %.
const sparseBins = 14

// sparseBytes is the memory of one sparseSketch, for budgeting.
const sparseBytes = int(unsafe.Sizeof(sparseSketch{}))

// skRefused in slot.sk: the window's quantiles outgrew its sparseSketch
// when the dense pool was empty; it emits no quantiles (counted in
// SketchRefused).
const skRefused = -2

// sparseSketch is the quantile state of one window (or pane) while its
// values fall in at most sparseBins buckets: the DDSketch buckets
// (Sketch.index) with their counts, in 152 bytes instead of a Sketch's 8
// KiB. Every slot of a shard with quantiles has one (Shard.sparse, by
// slot index); a window that needs more buckets moves to a dense Sketch
// (Shard.skUpgrade). replay turns it into the Sketch that adding the same
// values would have built — same buckets, same counts, so the same
// quantiles — which is how it is emitted and merged.
type sparseSketch struct {
	count, zero uint64
	min, max    float64
	n           uint8  // buckets used
	neg         uint16 // bit j: bucket j is of a negative value
	idx         [sparseBins]int32
	cnt         [sparseBins]uint32
}

func (p *sparseSketch) reset() {
	p.count, p.zero = 0, 0
	p.min, p.max = math.Inf(1), math.Inf(-1)
	p.n, p.neg = 0, 0
}

// add adds v, whose bucket proto (a Sketch of the pipeline's accuracy)
// computes. It returns false, changing nothing, when v needs a bucket
// beyond the sparseBins in use. NaN is ignored.
func (p *sparseSketch) add(proto *Sketch, v float64) bool {
	switch {
	case v > 0 || v < 0:
		neg := v < 0
		x := math.Abs(v)
		if x > math.MaxFloat64 {
			x = math.MaxFloat64 // ±Inf
		}
		if !p.addBucket(neg, proto.index(x), 1) {
			return false
		}
	case v == 0:
		p.zero++
	default:
		return true
	}
	p.count++
	p.min = math.Min(p.min, v)
	p.max = math.Max(p.max, v)
	return true
}

// addBucket adds c to bucket i of the sign's values; false when a new
// bucket is needed and none is left.
func (p *sparseSketch) addBucket(neg bool, i int32, c uint32) bool {
	if j := p.find(neg, i); j >= 0 {
		p.cnt[j] += c
		return true
	}
	if p.n == sparseBins {
		return false
	}
	p.idx[p.n], p.cnt[p.n] = i, c
	if neg {
		p.neg |= 1 << p.n
	}
	p.n++
	return true
}

// merge adds o's values to p; false, changing nothing, when the union
// needs more than sparseBins buckets.
func (p *sparseSketch) merge(o *sparseSketch) bool {
	fresh := 0
	for j := range o.n {
		if p.find(o.neg>>j&1 == 1, o.idx[j]) < 0 {
			fresh++
		}
	}
	if int(p.n)+fresh > sparseBins {
		return false
	}
	for j := range o.n {
		p.addBucket(o.neg>>j&1 == 1, o.idx[j], o.cnt[j])
	}
	p.count += o.count
	p.zero += o.zero
	p.min = math.Min(p.min, o.min)
	p.max = math.Max(p.max, o.max)
	return true
}

// find returns the position of bucket i of the sign's values, or -1.
func (p *sparseSketch) find(neg bool, i int32) int {
	for j := range int(p.n) {
		if p.idx[j] == i && (p.neg>>j&1 == 1) == neg {
			return j
		}
	}
	return -1
}

// replay adds p's values to the dense sketch d (of the same accuracy).
func (p *sparseSketch) replay(d *Sketch) {
	if p.count == 0 {
		return
	}
	for j := range p.n {
		d.addBucket(p.neg>>j&1 == 1, p.idx[j], p.cnt[j])
	}
	d.zero += p.zero
	d.count += p.count
	d.min = math.Min(d.min, p.min)
	d.max = math.Max(d.max, p.max)
}

// skAdd adds v to the quantiles of slot i.
func (s *Shard) skAdd(i int32, v float64) {
	sl := &s.slots[i]
	switch {
	case sl.sk >= 0:
		s.sketches[sl.sk].Add(v)
	case sl.sk == skRefused:
	case s.sparse[i].add(&s.skProto, v):
	case s.skUpgrade(i):
		s.sketches[sl.sk].Add(v)
	}
}

// skUpgrade moves the quantiles of slot i from its sparseSketch to a
// dense Sketch of the pool. When the pool is empty the window's
// quantiles are refused (counted): it emits none.
func (s *Shard) skUpgrade(i int32) bool {
	sl := &s.slots[i]
	n := len(s.skFree)
	if n == 0 {
		sl.sk = skRefused
		s.c[cSketchRefused]++
		return false
	}
	sl.sk = s.skFree[n-1]
	s.skFree = s.skFree[:n-1]
	d := &s.sketches[sl.sk]
	d.alpha, d.gamma, d.invLogGamma = s.skProto.alpha, s.skProto.gamma, s.skProto.invLogGamma
	d.clearCounts()
	s.sparse[i].replay(d)
	return true
}

// skRelease returns slot i's dense sketch, if any, to the pool.
func (s *Shard) skRelease(i int32) {
	sl := &s.slots[i]
	if sl.sk >= 0 {
		s.sketches[sl.sk].Reset()
		s.skFree = append(s.skFree, sl.sk)
	}
	sl.sk = -1
}

// skOf returns the quantiles of slot i as a Sketch to emit from: its dense
// sketch, or its sparseSketch replayed into the shard's spare sketch
// (valid until the next skOf); nil without quantiles.
func (s *Shard) skOf(i int32) *Sketch {
	if s.set&Quantiles == 0 {
		return nil
	}
	switch sk := s.slots[i].sk; {
	case sk >= 0:
		return &s.sketches[sk]
	case sk == skRefused:
		return nil
	}
	d := &s.spareSk
	d.Reset()
	s.sparse[i].replay(d)
	return d
}

// skMergeInto adds the quantiles of slot i to d; false when slot i has
// none (refused), so that d does not stand for the whole window.
func (s *Shard) skMergeInto(d *Sketch, i int32) bool {
	switch sk := s.slots[i].sk; {
	case sk >= 0:
		_ = d.Merge(&s.sketches[sk])
	case sk == skRefused:
		return false
	default:
		s.sparse[i].replay(d)
	}
	return true
}

// skMergeSlots adds the quantiles of slot src to slot dst's (sessions
// merging); a window whose part had none has none.
func (s *Shard) skMergeSlots(dst, src int32) {
	d, r := &s.slots[dst], &s.slots[src]
	switch {
	case d.sk == skRefused:
	case r.sk == skRefused:
		s.skRelease(dst)
		d.sk = skRefused
	case d.sk >= 0:
		_ = s.skMergeInto(&s.sketches[d.sk], src)
	case r.sk >= 0:
		// dst takes src's dense sketch, with its own values added.
		s.sparse[dst].replay(&s.sketches[r.sk])
		d.sk, r.sk = r.sk, -1
	case s.sparse[dst].merge(&s.sparse[src]):
	case s.skUpgrade(dst):
		s.sparse[src].replay(&s.sketches[d.sk])
	}
}
