package sink

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edgeplane/edgeplane/internal/ratelog"
)

// ForwarderOptions configure the forwarder.
type ForwarderOptions struct {
	// Durable is the consumer's durable name. Default "kafka-forwarder".
	Durable string
	// Batch is how many frames one fetch takes at most, and so how many
	// are in flight to Kafka at once. Default 32; the gateway sets it from
	// its memory budget (ForwarderBatchFor).
	Batch int
	// FetchWait is how long the forwarder waits for a frame when the
	// buffer is empty before it asks again. A frame that arrives ends the
	// wait at once, and so does stopping, so the wait only sets how often
	// an idle gateway polls its buffer. Default 5 s (at 500 ms the polls
	// were a third of an idle gateway's CPU).
	FetchWait time.Duration
	// DeliveryTimeout bounds one attempt to deliver a batch to Kafka:
	// records not acknowledged by then fail and their frames are retried.
	// Default 30 s.
	DeliveryTimeout time.Duration
	// AckWait is how long JetStream waits for an ack before redelivering
	// a frame. The forwarder extends it (in-progress acks) while a frame
	// is being delivered or retried, so it only matters after a crash: it
	// is how long the frames in flight at the crash wait before the next
	// process gets them. Default 10 s.
	AckWait time.Duration
	// NakMin and NakMax bound the delay between retries of a failed
	// batch; it doubles per consecutive failure. Defaults 500 ms, 5 s:
	// NakMax bounds how long after Kafka's (or a topic's) return the
	// backlog starts to move, and a retry costs one produce attempt.
	NakMin, NakMax time.Duration
	// StallAfter is how long Kafka may acknowledge nothing while frames
	// wait before Stall reports the forwarder stalled. Default
	// DefaultStallAfter.
	StallAfter time.Duration
	// OnDelivered, if set, is called for every record Kafka acknowledged
	// with the time since the record was emitted (its timestamp): the
	// buffering and delivery part of the end-to-end latency. It runs on the
	// Kafka client's goroutine and must be fast.
	OnDelivered func(sinceEmitted time.Duration)
	Logger      *slog.Logger
	// LogInterval limits each repeating warning (delivery and fetch
	// failures, frames removed by the buffer's limits, failed acks) to
	// one line per interval, with the count of the lines suppressed.
	// Default ratelog.DefaultInterval.
	LogInterval time.Duration
}

// Forwarder moves frames from the Buffer to Kafka. A frame is acked in
// JetStream (and so deleted) only after Kafka acknowledged every record
// in it; until then it stays in the stream and is redelivered.
type Forwarder struct {
	buf   *Buffer
	kc    *kgo.Client
	opts  ForwarderOptions
	cons  jetstream.Consumer
	log   *slog.Logger
	rl    *ratelog.Logger // repeating warnings
	Stats ForwarderStats

	health health
}

// ForwarderBatchFor is the forwarder's batch (ForwarderOptions.Batch) for
// a gateway memory budget of limit bytes: as many full frames as fit in
// 1/128 of it, within [4, 32] — 8 at the default 256 MiB. A batch's frames,
// their decoded records and the Kafka client's copies of them are live
// together, so the batch sets the heap's peaks under load (10,000 series
// through Mosquitto: peak RSS 110–114 MiB at 8 against 111–131 at 32,
// three alternating runs each), while draining a backlog to a local
// broker is about 15 % slower (BenchmarkDrain/json).
func ForwarderBatchFor(limit int64) int {
	return int(min(max(limit/128/DefaultFrameMaxBytes, 4), 32))
}

// NewForwarder creates (or resumes) the durable consumer.
func NewForwarder(ctx context.Context, b *Buffer, kc *kgo.Client, o ForwarderOptions) (*Forwarder, error) {
	if o.Durable == "" {
		o.Durable = "kafka-forwarder"
	}
	if o.Batch <= 0 {
		o.Batch = 32
	}
	if o.FetchWait <= 0 {
		o.FetchWait = 5 * time.Second
	}
	if o.DeliveryTimeout <= 0 {
		o.DeliveryTimeout = 30 * time.Second
	}
	if o.AckWait <= 0 {
		o.AckWait = 10 * time.Second
	}
	if o.NakMin <= 0 {
		o.NakMin = 500 * time.Millisecond
	}
	if o.NakMax <= 0 {
		o.NakMax = 5 * time.Second
	}
	if o.StallAfter <= 0 {
		o.StallAfter = DefaultStallAfter
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	cons, err := b.js.CreateOrUpdateConsumer(ctx, b.opts.Stream, jetstream.ConsumerConfig{
		Durable:       o.Durable,
		Description:   "edgeplane: frames to Kafka",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       o.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: o.Batch * 4,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, err
	}
	log := o.Logger.With("component", "forwarder")
	f := &Forwarder{buf: b, kc: kc, opts: o, cons: cons, log: log, rl: ratelog.New(log, o.LogInterval)}
	if h := attemptHookOf(kc); h != nil {
		onErr := func(err error) { f.health.noteError(&f.Stats.Errors, err) }
		h.on.Store(&onErr)
	}
	return f, nil
}

// pending tracks the Kafka records of one fetched frame.
type pending struct {
	msg   jetstream.Msg
	frame Frame // decoded; aliases msg.Data()
	err   atomic.Pointer[error]
	left  atomic.Int32 // records of the current attempt without a result yet
}

// delivered reports whether every record of p's last attempt was
// acknowledged.
func (p *pending) delivered() bool { return p.left.Load() == 0 && p.err.Load() == nil }

// Run forwards until ctx ends. It returns nil on cancellation.
//
// It fetches a batch of frames, hands all their records to the Kafka
// client, and acks each frame once all its records are acknowledged. Frames
// with a failed record are retried in place, after a backoff, while the
// rest of the batch is acked; no new batch is fetched before the whole
// batch is delivered, so the backlog drains oldest first. While a batch is
// in hand its frames' ack deadlines are extended. On cancellation, frames
// not delivered are nak'ed so the next run gets them at once.
func (f *Forwarder) Run(ctx context.Context) error {
	mctx, mcancel := context.WithCancel(ctx)
	defer mcancel()
	go f.meterRate(mctx)
	var batch []*pending
	for ctx.Err() == nil {
		// Take what is there at once; when nothing is, wait for the first
		// frame only, so a lone frame does not wait for a full batch.
		batch = f.fetch(ctx, batch[:0], f.opts.Batch, true)
		if len(batch) == 0 && ctx.Err() == nil {
			batch = f.fetch(ctx, batch, 1, false)
		}
		f.deliver(ctx, batch)
	}
	return nil
}

// fetch appends up to n decodable frames to batch, terminating the ones
// that do not decode.
func (f *Forwarder) fetch(ctx context.Context, batch []*pending, n int, noWait bool) []*pending {
	var fetched jetstream.MessageBatch
	var err error
	if noWait {
		fetched, err = f.cons.FetchNoWait(n)
	} else {
		// The wait ends with ctx: a stop does not wait out FetchWait.
		fctx, cancel := context.WithTimeout(ctx, f.opts.FetchWait)
		defer cancel()
		fetched, err = f.cons.Fetch(n, jetstream.FetchContext(fctx))
	}
	if err != nil {
		if ctx.Err() == nil {
			f.Stats.FetchErrors.Add(1)
			f.rl.Warn("fetch from buffer failed", "err", err)
			sleepCtx(ctx, time.Second)
		}
		return batch
	}
	for msg := range fetched.Messages() {
		p := &pending{msg: msg}
		if err := DecodeFrame(msg.Data(), &p.frame); err != nil {
			f.Stats.BadFrames.Add(1)
			f.rl.Error("dropping undecodable frame", "subject", msg.Subject(), "bytes", len(msg.Data()), "err", err)
			_ = f.buf.terminate(msg)
			continue
		}
		batch = append(batch, p)
	}
	// A wait that ran out is not an error: the buffer was empty.
	if err := fetched.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		f.Stats.FetchErrors.Add(1)
		f.log.Debug("fetch ended with error", "err", err)
	}
	return batch
}

// deliver delivers batch until every frame is acked or ctx ends.
func (f *Forwarder) deliver(ctx context.Context, batch []*pending) {
	failures := 0
	var delivered []jetstream.Msg
	defer f.health.holding(0)
	for {
		if batch = f.pruneRemoved(ctx, batch); len(batch) == 0 {
			return
		}
		f.health.holding(len(batch))
		f.attempt(ctx, batch)
		if ctx.Err() != nil {
			// Frames whose records all made it are acked (so a restart
			// does not duplicate them); the rest go back at once.
			actx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			for _, p := range batch {
				if p.delivered() {
					delivered = append(delivered, p.msg)
				} else {
					_ = p.msg.Nak()
				}
			}
			f.ackDelivered(actx, delivered)
			cancel()
			return
		}
		left := batch[:0]
		var firstErr error
		delivered = delivered[:0]
		for _, p := range batch {
			if perr := p.err.Load(); perr != nil {
				if firstErr == nil {
					firstErr = *perr
				}
				p.err.Store(nil)
				left = append(left, p)
				f.Stats.Naks.Add(1)
				continue
			}
			delivered = append(delivered, p.msg)
		}
		f.ackDelivered(ctx, delivered)
		batch = left
		f.Stats.Failing.Store(len(batch) > 0)
		if len(batch) == 0 {
			if failures > 0 {
				f.log.Info("kafka delivery recovered", "after_failures", failures)
			}
			return
		}
		f.purgeStale()
		delay := min(f.opts.NakMin<<min(failures, 16), f.opts.NakMax)
		f.rl.Warn("kafka delivery failed; frames kept for retry", "frames", len(batch), "err", firstErr, "retry_in", delay)
		failures++
		f.wait(ctx, batch, nil, delay)
	}
}

// pruneRemoved drops from batch the frames the stream's limits removed
// (drop_oldest, max_age) since they were fetched, before each attempt to
// deliver them: they are counted as dropped, so they must not reach Kafka
// (JetStream accepts the ack of a removed message, so the ack would not
// tell). Limits remove frames from the head, so a frame below the
// stream's first sequence is gone. A frame removed after this check,
// while in flight, is caught by Buffer.ackHeld.
func (f *Forwarder) pruneRemoved(ctx context.Context, batch []*pending) []*pending {
	if len(batch) == 0 {
		return batch
	}
	first, err := f.buf.firstSeq(ctx)
	if err != nil {
		return batch
	}
	left := batch[:0]
	for _, p := range batch {
		md, err := p.msg.Metadata()
		if err == nil && md.Sequence.Stream < first {
			f.Stats.Pruned.Add(1)
			continue
		}
		left = append(left, p)
	}
	if n := len(batch) - len(left); n > 0 {
		f.rl.Warn("frames removed by the buffer's limits while waiting for Kafka", "frames", n)
	}
	return left
}

// ackDelivered acks frames whose records Kafka acknowledged (see
// Buffer.ackHeld) and counts them.
func (f *Forwarder) ackDelivered(ctx context.Context, msgs []jetstream.Msg) {
	if len(msgs) == 0 {
		return
	}
	res := make([]int, len(msgs))
	f.buf.ackHeld(ctx, msgs, res)
	for i, msg := range msgs {
		switch res[i] {
		case ackDone:
			_, items := subjectItems(msg.Subject())
			f.Stats.Items.Add(items)
			f.Stats.Frames.Add(1)
			f.Stats.LastSuccessMs.Store(time.Now().UnixMilli())
		case ackRemoved:
			f.Stats.DeliveredDropped.Add(1)
		case ackFailed:
			// Kafka has the records; JetStream will redeliver the frame
			// and Kafka gets duplicates with equal ids.
			f.Stats.AckErrors.Add(1)
			f.rl.Warn("ack of a delivered frame failed; it will be delivered again", "subject", msg.Subject())
		}
	}
}

// attempt hands every record of batch to Kafka and waits for all the
// promises, extending the frames' ack deadlines meanwhile. Each frame's
// first error is left in its err.
func (f *Forwarder) attempt(ctx context.Context, batch []*pending) {
	dctx, dcancel := context.WithTimeout(ctx, f.opts.DeliveryTimeout)
	defer dcancel()
	var wg sync.WaitGroup
	for _, p := range batch {
		f.produceFrame(dctx, p, &wg)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	// Every promise runs: on success, on a Kafka error, or when dctx
	// ends before the record was written. A record already in flight to a
	// hanging broker can hold its promise until the client's request
	// timeout: on cancellation wait at most shutdownGrace for it (its
	// frame is then nak'ed and may reach Kafka twice).
	gctx, gcancel := context.WithCancel(context.Background())
	defer gcancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(shutdownGrace, gcancel) })
	defer stop()
	f.wait(gctx, batch, done, 0)
}

// shutdownGrace bounds how long a cancelled forwarder waits for records
// in flight.
const shutdownGrace = 2 * time.Second

// wait extends the ack deadline of batch's frames until done is closed,
// or (done nil) until d passed or ctx ended.
func (f *Forwarder) wait(ctx context.Context, batch []*pending, done <-chan struct{}, d time.Duration) {
	tick := time.NewTicker(max(f.opts.AckWait/3, 10*time.Millisecond))
	defer tick.Stop()
	var timeout <-chan time.Time
	if done == nil {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	for {
		select {
		case <-done:
			return
		case <-timeout:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
			for _, p := range batch {
				_ = p.msg.InProgress()
			}
		}
	}
}

// produceFrame hands every record of p's frame to the Kafka client. The
// records alias the frame's bytes, which stay valid until p is dropped:
// the Kafka client only reads them.
func (f *Forwarder) produceFrame(ctx context.Context, p *pending, wg *sync.WaitGroup) {
	frame := &p.frame
	topic := string(frame.Topic)
	common := make([]kgo.RecordHeader, 0, len(frame.Headers)+2)
	for _, h := range frame.Headers {
		common = append(common, kgo.RecordHeader{Key: string(h.Key), Value: h.Value})
	}
	wg.Add(len(frame.Records))
	p.left.Store(int32(len(frame.Records)))
	for i := range frame.Records {
		fr := &frame.Records[i]
		headers := make([]kgo.RecordHeader, len(common), len(common)+2)
		copy(headers, common)
		headers = append(headers,
			kgo.RecordHeader{Key: "id", Value: fr.ID},
			kgo.RecordHeader{Key: "revision", Value: strconv.AppendUint(nil, fr.Revision, 10)},
		)
		rec := &kgo.Record{
			Topic:     topic,
			Key:       fr.Key,
			Value:     fr.Value, // nil for a tombstone (FrameRecord.Null)
			Headers:   headers,
			Timestamp: time.UnixMilli(fr.Timestamp),
		}
		f.Stats.Bytes.Add(uint64(len(rec.Key) + len(rec.Value)))
		f.kc.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				f.Stats.RecordErrors.Add(1)
				f.health.noteError(&f.Stats.Errors, err)
				f.health.notePurge(topic, err)
				p.err.CompareAndSwap(nil, &err)
			} else {
				f.Stats.Records.Add(1)
				f.health.lastAckMs.Store(time.Now().UnixMilli())
				if f.opts.OnDelivered != nil {
					f.opts.OnDelivered(time.Since(rec.Timestamp))
				}
			}
			p.left.Add(-1)
			wg.Done()
		})
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
