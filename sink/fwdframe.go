package sink

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/twmb/franz-go/pkg/kgo"
)

// pending tracks the Kafka records of one fetched frame. Its slabs — the
// decoded frame, the Kafka records with their headers and revision
// digits, the promise — are kept for the next frame that pending carries:
// at 10,000 series the per-record allocations of the forwarder were a
// quarter of the gateway's allocated bytes (DESIGN.md, "non-obvious").
type pending struct {
	msg   jetstream.Msg
	frame Frame // decoded; aliases msg.Data()
	err   atomic.Pointer[error]
	left  atomic.Int32 // records of the current attempt without a result yet

	f       *Forwarder
	wg      *sync.WaitGroup // the current attempt's
	promise func(*kgo.Record, error)
	topic   string
	recs    []kgo.Record
	hdrs    []kgo.RecordHeader
	revs    []byte
}

// delivered reports whether every record of p's last attempt was
// acknowledged.
func (p *pending) delivered() bool { return p.left.Load() == 0 && p.err.Load() == nil }

// slabs are the forwarder's pendings: the ones of the batch in hand and
// the free ones a fetch takes first. Only the forwarder's goroutine
// touches them.
type slabs struct {
	inUse, free []*pending
}

// take returns a pending for msg, reusing a free one.
func (f *Forwarder) take(msg jetstream.Msg) *pending {
	s := &f.slabs
	var p *pending
	if n := len(s.free); n > 0 {
		p, s.free[n-1] = s.free[n-1], nil
		s.free = s.free[:n-1]
	} else {
		p = &pending{f: f}
		p.promise = p.result
	}
	p.msg = msg
	p.err.Store(nil)
	p.left.Store(0)
	s.inUse = append(s.inUse, p)
	return p
}

// recycle frees the pendings of the batch just delivered. It must not run
// while a promise of theirs may still run: Run calls it only when
// deliver returned without cancellation, that is after every promise of
// every attempt ran (attempt waits for all of them unless ctx ended).
func (f *Forwarder) recycle() {
	s := &f.slabs
	for i, p := range s.inUse {
		p.msg = nil
		s.free = append(s.free, p)
		s.inUse[i] = nil
	}
	s.inUse = s.inUse[:0]
}

// idle lets the collector have the free pendings' slabs (up to a batch of
// full frames' records) while the buffer is empty.
func (f *Forwarder) idle() {
	clear(f.slabs.free)
	f.slabs.free = f.slabs.free[:0]
}

// produceFrame hands every record of p's frame to the Kafka client. The
// records alias the frame's bytes, which stay valid until p is reused:
// the Kafka client only reads them. The records, their headers and
// revision digits live in p's slabs, which no promise of an earlier
// attempt still reads (attempt waited for them all).
func (f *Forwarder) produceFrame(ctx context.Context, p *pending, wg *sync.WaitGroup) {
	frame := &p.frame
	if string(frame.Topic) != p.topic {
		p.topic = string(frame.Topic)
	}
	n := len(frame.Records)
	nh := len(frame.Headers) + 2
	if cap(p.recs) < n {
		p.recs = make([]kgo.Record, n)
	}
	if cap(p.hdrs) < n*nh {
		p.hdrs = make([]kgo.RecordHeader, n*nh)
	}
	// Reserved up front: appending never moves the digits already sliced.
	if cap(p.revs) < n*maxUintDigits {
		p.revs = make([]byte, 0, n*maxUintDigits)
	}
	recs, hdrs, revs := p.recs[:n], p.hdrs[:n*nh], p.revs[:0]
	for i, h := range frame.Headers {
		hdrs[i] = kgo.RecordHeader{Key: string(h.Key), Value: h.Value}
	}
	for i := nh; i < len(hdrs); i += nh {
		copy(hdrs[i:i+nh-2], hdrs[:nh-2])
	}
	p.wg = wg
	wg.Add(n)
	p.left.Store(int32(n))
	for i := range frame.Records {
		fr := &frame.Records[i]
		h := hdrs[i*nh : (i+1)*nh : (i+1)*nh]
		at := len(revs)
		revs = strconv.AppendUint(revs, fr.Revision, 10)
		h[nh-2] = kgo.RecordHeader{Key: "id", Value: fr.ID}
		h[nh-1] = kgo.RecordHeader{Key: "revision", Value: revs[at:len(revs):len(revs)]}
		rec := &recs[i]
		*rec = kgo.Record{
			Topic:     p.topic,
			Key:       fr.Key,
			Value:     fr.Value, // nil for a tombstone (FrameRecord.Null)
			Headers:   h,
			Timestamp: time.UnixMilli(fr.Timestamp),
		}
		f.Stats.Bytes.Add(uint64(len(rec.Key) + len(rec.Value)))
		f.kc.Produce(ctx, rec, p.promise)
	}
}

// maxUintDigits is the length of the largest uint64 in decimal.
const maxUintDigits = 20

// result is the promise of p's records.
func (p *pending) result(r *kgo.Record, err error) {
	f := p.f
	if err != nil {
		f.Stats.RecordErrors.Add(1)
		f.health.noteError(&f.Stats.Errors, err)
		f.health.notePurge(r.Topic, err)
		p.err.CompareAndSwap(nil, &err)
	} else {
		f.Stats.Records.Add(1)
		f.health.lastAckMs.Store(time.Now().UnixMilli())
		if f.opts.OnDelivered != nil {
			f.opts.OnDelivered(time.Since(r.Timestamp))
		}
	}
	p.left.Add(-1)
	p.wg.Done()
}
