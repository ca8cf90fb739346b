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
)

// ForwarderOptions configure the forwarder.
type ForwarderOptions struct {
	// Durable is the consumer's durable name. Default "kafka-forwarder".
	Durable string
	// Batch is how many frames one fetch takes at most. Default 32.
	Batch int
	// FetchWait is how long a fetch waits for frames. Default 500 ms.
	FetchWait time.Duration
	// DeliveryTimeout bounds one fetched batch's delivery to Kafka: records
	// not acknowledged by then fail and their frames are nak'ed. Default 30s.
	DeliveryTimeout time.Duration
	// AckWait is how long JetStream waits for an ack before redelivering.
	// It must exceed DeliveryTimeout. Default 4 × DeliveryTimeout.
	AckWait time.Duration
	// NakMin and NakMax bound the redelivery delay after a failed
	// delivery; it doubles per consecutive failure. Defaults 500 ms, 30 s.
	NakMin, NakMax time.Duration
	Logger         *slog.Logger
}

// ForwarderStats are the forwarder's counters; safe for concurrent reads.
type ForwarderStats struct {
	Records       atomic.Uint64 // Kafka records acknowledged
	RecordErrors  atomic.Uint64 // Kafka records failed (their frame is redelivered)
	Frames        atomic.Uint64 // frames fully delivered and acked in JetStream
	Naks          atomic.Uint64 // frames nak'ed for redelivery
	BadFrames     atomic.Uint64 // undecodable frames, terminated and logged
	FetchErrors   atomic.Uint64
	Bytes         atomic.Uint64 // record value+key bytes handed to Kafka
	LastSuccessMs atomic.Int64  // wall time of the last acknowledged frame
	Failing       atomic.Bool   // the last delivery attempt failed
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
	Stats ForwarderStats
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
		o.FetchWait = 500 * time.Millisecond
	}
	if o.DeliveryTimeout <= 0 {
		o.DeliveryTimeout = 30 * time.Second
	}
	if o.AckWait <= o.DeliveryTimeout {
		o.AckWait = 4 * o.DeliveryTimeout
	}
	if o.NakMin <= 0 {
		o.NakMin = 500 * time.Millisecond
	}
	if o.NakMax <= 0 {
		o.NakMax = 30 * time.Second
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
	return &Forwarder{buf: b, kc: kc, opts: o, cons: cons, log: o.Logger.With("component", "forwarder")}, nil
}

// pending tracks the Kafka records of one fetched frame.
type pending struct {
	msg  jetstream.Msg
	left atomic.Int32
	err  atomic.Pointer[error]
}

// Run forwards until ctx ends. It returns nil on cancellation.
func (f *Forwarder) Run(ctx context.Context) error {
	var (
		frame    Frame
		failures int
		batch    []*pending
	)
	for ctx.Err() == nil {
		fetched, err := f.cons.Fetch(f.opts.Batch, jetstream.FetchMaxWait(f.opts.FetchWait))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			f.Stats.FetchErrors.Add(1)
			f.log.Warn("fetch from buffer failed", "err", err)
			sleepCtx(ctx, time.Second)
			continue
		}
		batch = batch[:0]
		var wg sync.WaitGroup
		dctx, dcancel := context.WithTimeout(ctx, f.opts.DeliveryTimeout)
		for msg := range fetched.Messages() {
			p := &pending{msg: msg}
			if err := DecodeFrame(msg.Data(), &frame); err != nil {
				f.Stats.BadFrames.Add(1)
				f.log.Error("dropping undecodable frame", "subject", msg.Subject(), "bytes", len(msg.Data()), "err", err)
				_ = msg.Term()
				continue
			}
			f.produceFrame(dctx, &frame, p, &wg)
			batch = append(batch, p)
		}
		if err := fetched.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && ctx.Err() == nil {
			f.Stats.FetchErrors.Add(1)
			f.log.Debug("fetch ended with error", "err", err)
		}
		if len(batch) == 0 {
			dcancel()
			continue
		}
		// Every promise runs: on success, on a Kafka error, or when dctx
		// ends before the record was written.
		wg.Wait()
		dcancel()
		if ctx.Err() != nil {
			// Unacked frames are redelivered to the next run: the
			// consumer is durable.
			return nil
		}
		failed := false
		for _, p := range batch {
			if perr := p.err.Load(); perr != nil {
				failed = true
				delay := min(f.opts.NakMin<<min(failures, 16), f.opts.NakMax)
				_ = p.msg.NakWithDelay(delay)
				f.Stats.Naks.Add(1)
				if failures == 0 {
					f.log.Warn("kafka delivery failed; frame kept for retry", "err", *perr, "retry_in", delay)
				}
				continue
			}
			if err := p.msg.DoubleAck(ctx); err != nil {
				// Kafka has the records; JetStream will redeliver the
				// frame and Kafka gets duplicates with equal ids.
				f.log.Warn("ack of delivered frame failed", "err", err)
				continue
			}
			f.Stats.Frames.Add(1)
			f.Stats.LastSuccessMs.Store(time.Now().UnixMilli())
		}
		f.Stats.Failing.Store(failed)
		if failed {
			failures++
		} else {
			if failures > 0 {
				f.log.Info("kafka delivery recovered", "after_failures", failures)
			}
			failures = 0
		}
	}
	return nil
}

// produceFrame hands every record of frame to the Kafka client. The
// frame's bytes are copied into the records, since the frame is reused.
func (f *Forwarder) produceFrame(ctx context.Context, frame *Frame, p *pending, wg *sync.WaitGroup) {
	topic := string(frame.Topic)
	common := make([]kgo.RecordHeader, 0, len(frame.Headers)+2)
	for _, h := range frame.Headers {
		common = append(common, kgo.RecordHeader{Key: string(h.Key), Value: append([]byte(nil), h.Value...)})
	}
	p.left.Store(int32(len(frame.Records)))
	wg.Add(len(frame.Records))
	for i := range frame.Records {
		fr := &frame.Records[i]
		headers := make([]kgo.RecordHeader, len(common), len(common)+2)
		copy(headers, common)
		headers = append(headers,
			kgo.RecordHeader{Key: "id", Value: append([]byte(nil), fr.ID...)},
			kgo.RecordHeader{Key: "revision", Value: strconv.AppendUint(nil, fr.Revision, 10)},
		)
		rec := &kgo.Record{
			Topic:     topic,
			Key:       append([]byte(nil), fr.Key...),
			Value:     append([]byte(nil), fr.Value...),
			Headers:   headers,
			Timestamp: time.UnixMilli(fr.Timestamp),
		}
		f.Stats.Bytes.Add(uint64(len(rec.Key) + len(rec.Value)))
		f.kc.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				f.Stats.RecordErrors.Add(1)
				p.err.CompareAndSwap(nil, &err)
			} else {
				f.Stats.Records.Add(1)
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
