package dryrun

import (
	"errors"
	"fmt"
	"slices"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/decode"
	"github.com/edgeplane/edgeplane/operators"
	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/sink"
)

// Options configure a Runner.
type Options struct {
	// Source names the source whose messages Feed takes. Empty: the
	// configuration's only source (an error when it has several).
	Source string
	// Windows runs the pipelines' windows: Feed then also collects the
	// aggregate and late records they emit, and Flush fires what is open.
	Windows bool
}

// Runner runs the compiled pipelines fed by one source on messages given
// to Feed, in-process and in order: decode, tag filters, field mapping,
// the stateless chain (dedup, filter, map, deadband) and, with
// Options.Windows, the windows. It is not safe for concurrent use.
type Runner struct {
	src   *config.SourcePlan
	dec   *decode.Decoder
	batch decode.Batch
	pipes []*pipeRun
	wins  bool
	out   []Record
}

// pipeRun is one pipeline fed by the runner's source.
type pipeRun struct {
	plan   *config.PipelinePlan
	idx    int // the source's index in the pipeline's from list
	series *record.SeriesTable
	shard  *operators.Shard
	who    sink.Identity
	late   bool // the pipeline has a late topic
	r      *Runner
	buf    []byte
	id     []byte
	rec    sink.JSONRecord
	now    int64
}

// Reading is one decoded reading and what each pipeline fed by the
// source did with it.
type Reading struct {
	Series string
	Field  string
	// Time is the event time in Unix ms; Arrival tells it was taken from
	// the arrival clock (the payload had none).
	Time    int64
	Arrival bool
	Value   float64
	// Outcomes are per pipeline, in the order of the configuration.
	Outcomes []Outcome
}

// Outcome is what one pipeline did with a reading.
type Outcome struct {
	Pipeline string
	// Result is "kept" (it reached the windows, or would have), "late",
	// "not_taken" (the pipeline does not take the field), or the stage
	// that dropped it: "tag_filtered", "filtered", "deduped",
	// "deadbanded", "series_refused", "refused".
	Result string
}

// Result is what became of one message.
type Result struct {
	// Reason is ReasonNone for an accepted message; Err says where the
	// decoder looked and what it found when it rejected one.
	Reason   decode.Reason
	Err      error
	Readings []Reading
}

// Record is one record a pipeline would send to Kafka: an aggregate (or,
// in Late, a late reading for the late topic) as its JSON value.
type Record struct {
	Pipeline string
	Topic    string
	Key      string
	Late     bool
	// Value is nil for a tombstone (a retraction keyed by id).
	Value []byte
}

// New returns a Runner over a compiled configuration.
func New(plan *config.Compiled, o Options) (*Runner, error) {
	r := &Runner{wins: o.Windows}
	switch {
	case o.Source != "":
		for _, sp := range plan.Sources {
			if sp.Config.Name == o.Source {
				r.src = sp
			}
		}
		if r.src == nil {
			return nil, fmt.Errorf("no source named %q (the configuration has %s)", o.Source, sourceList(plan))
		}
	case len(plan.Sources) == 1:
		r.src = plan.Sources[0]
	default:
		return nil, fmt.Errorf("the configuration has %d sources: choose one with --source (%s)", len(plan.Sources), sourceList(plan))
	}
	dec, err := decode.NewDecoder(&r.src.Decode)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", r.src.Config.Name, err)
	}
	r.dec = dec
	for _, pp := range plan.Pipelines {
		idx := slices.Index(pp.Config.From, r.src.Config.Name)
		if idx < 0 {
			continue
		}
		p := &pipeRun{plan: pp, idx: idx, series: record.NewSeriesTable(pp.Config.MaxSeries), r: r,
			who:  sink.Identity{Gateway: plan.Config.Gateway.ID, Pipeline: pp.Config.Name, Window: pp.Writer.WindowSpec},
			late: pp.Late != nil}
		// One shard that derives the watermark from the samples it sees,
		// in arrival order: WINDOWS.md's sequential semantics, which the
		// gateway's in-band markers reproduce across its shards.
		oc := pp.Operators
		oc.InBandWatermarks = false
		oc.Shards = 1
		oc.StateBudget, oc.SketchBudget = 0, 0
		if p.shard, err = operators.NewShard(&oc, operators.NewWatermarks(&oc), p); err != nil {
			return nil, fmt.Errorf("pipeline %s: %w", pp.Config.Name, err)
		}
		r.pipes = append(r.pipes, p)
	}
	if len(r.pipes) == 0 {
		return nil, fmt.Errorf("source %s feeds no pipeline", r.src.Config.Name)
	}
	return r, nil
}

func sourceList(plan *config.Compiled) string {
	var names []string
	for _, sp := range plan.Sources {
		names = append(names, sp.Config.Name)
	}
	if len(names) == 0 {
		return "none"
	}
	return fmt.Sprint(names)
}

// Source returns the source's compiled options.
func (r *Runner) Source() *config.SourcePlan { return r.src }

// Feed runs one message that arrived on topic at arrivalMs (Unix ms).
func (r *Runner) Feed(topic string, payload []byte, arrivalMs int64) Result {
	r.batch.Reset()
	r.batch.Seq++
	reason, err := r.dec.Decode(topic, payload, arrivalMs, &r.batch)
	res := Result{Reason: reason, Err: err}
	if reason != decode.ReasonNone {
		if err == nil {
			err = errors.New(reason.String())
		}
		res.Err = err
		return res
	}
	names := r.src.Decode.FieldNames()
	for i := range r.batch.Readings {
		rd := &r.batch.Readings[i]
		res.Readings = append(res.Readings, Reading{Series: string(r.batch.Key(i)), Field: names[rd.Field],
			Time: rd.Time, Arrival: rd.Flags&record.FlagArrivalTime != 0, Value: rd.Value})
	}
	for _, p := range r.pipes {
		p.feed(&r.batch, res.Readings, arrivalMs)
	}
	return res
}

// feed runs the readings of b through the pipeline one by one and
// appends each one's outcome.
func (p *pipeRun) feed(b *decode.Batch, out []Reading, nowMs int64) {
	p.now = nowMs
	fm := p.plan.FieldMap[p.idx]
	tagsOK := p.plan.TagRules == nil || decode.TagsPass(p.plan.TagRules[p.idx], b.Vars)
	for i := range b.Readings {
		rd := &b.Readings[i]
		res := "kept"
		switch {
		case int(rd.Field) >= len(fm) || fm[rd.Field] < 0:
			res = "not_taken"
		case !tagsOK:
			res = "tag_filtered"
		default:
			id, err := p.series.Intern(b.Key(i))
			if err != nil {
				res = "series_refused"
				break
			}
			s := record.Sample{Series: id, Field: uint16(fm[rd.Field]), Source: uint8(p.idx), Flags: rd.Flags,
				Time: rd.Time, Value: rd.Value, Seq: b.Seq}
			before := p.shard.Stats()
			p.shard.Process([]record.Sample{s}, nowMs)
			res = outcome(before, p.shard.Stats())
		}
		out[i].Outcomes = append(out[i].Outcomes, Outcome{Pipeline: p.plan.Config.Name, Result: res})
	}
}

// outcome names the counter one sample moved.
func outcome(a, b operators.ShardStats) string {
	switch {
	case b.Filtered > a.Filtered:
		return "filtered"
	case b.Deduped > a.Deduped:
		return "deduped"
	case b.Deadbanded > a.Deadbanded:
		return "deadbanded"
	case b.Late > a.Late:
		return "late"
	case b.RefusedSeries > a.RefusedSeries || b.RefusedField > a.RefusedField || b.RefusedSource > a.RefusedSource ||
		b.RefusedWindows > a.RefusedWindows || b.RefusedTime > a.RefusedTime:
		return "refused"
	}
	return "kept"
}

// Advance moves the pipelines' wall clock to nowMs: windows whose
// watermark the idle fallback or processing time moves past fire.
func (r *Runner) Advance(nowMs int64) {
	for _, p := range r.pipes {
		p.now = nowMs
		p.shard.Advance(nowMs)
	}
}

// Flush fires every open window of every pipeline, as a graceful stop
// does once the input has ended.
func (r *Runner) Flush() {
	for _, p := range r.pipes {
		p.shard.Flush()
	}
}

// Records returns the records emitted since the last call, in order.
// Without Options.Windows there are none.
func (r *Runner) Records() []Record {
	out := r.out
	r.out = nil
	return out
}

// Emit implements operators.Emitter.
func (p *pipeRun) Emit(a *record.Aggregate) {
	if !p.r.wins {
		return
	}
	p.who.Series = p.series.Key(a.Series)
	p.who.Field = p.plan.Fields[a.Field]
	p.rec.Encode(a, &p.who, p.plan.Writer.Columns, p.plan.Writer.Key)
	p.r.out = append(p.r.out, Record{Pipeline: p.plan.Config.Name, Topic: p.plan.Writer.Topic, Key: string(p.rec.Key),
		Value: slices.Clone(p.rec.Value)})
}

// Late implements operators.Emitter: a late reading becomes a record of
// the late topic when the pipeline has one (it is counted either way).
func (p *pipeRun) Late(s *record.Sample) {
	if !p.r.wins || !p.late {
		return
	}
	p.who.Series = p.series.Key(s.Series)
	p.who.Field = p.plan.Fields[s.Field]
	p.id = sink.AppendLateID(p.id[:0], &p.who, s)
	p.buf = sink.AppendLateJSON(p.buf[:0], s, p.id, &p.who, p.now)
	p.r.out = append(p.r.out, Record{Pipeline: p.plan.Config.Name, Topic: p.plan.Late.Topic, Key: p.who.Series,
		Late: true, Value: slices.Clone(p.buf)})
}
