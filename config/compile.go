package config

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"sort"

	"github.com/edgeplane/edgeplane/decode"
	"github.com/edgeplane/edgeplane/ingest"
	"github.com/edgeplane/edgeplane/natsd"
	"github.com/edgeplane/edgeplane/operators"
	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/ring"
	"github.com/edgeplane/edgeplane/sink"
)

// Compiled is a validated configuration turned into each stage's own
// typed options: what `edgeplane validate` checks is exactly what
// `edgeplane run` builds, because both come from one Compile. Package
// pipeline only wires these options together and runs their lifecycle.
// Options that only exist at run time (loggers, connections, secrets read
// from files, the embedded broker's address) are left for it to fill.
type Compiled struct {
	// Config is the defaulted file the options were compiled from.
	Config *Config
	// NATS are the embedded server's options (Logger unset).
	NATS natsd.Options
	// Buffer are the store-and-forward stream's options.
	Buffer sink.BufferOptions
	// Sources and Pipelines are in file order.
	Sources   []*SourcePlan
	Pipelines []*PipelinePlan
}

// SourcePlan is one compiled source.
type SourcePlan struct {
	// Config is the source's section of the file.
	Config *Source
	Decode decode.Options
	// The transport's options, by Config.Type. The parts that exist only
	// at run time are left for pipeline to fill: the password and TLS
	// configuration (read from files), the WebSocket token, connections,
	// loggers and dead-letter hooks; and, when EmbeddedBroker is set, the
	// embedded listener's address as MQTT.Broker.
	MQTT           ingest.MQTTOptions
	EmbeddedBroker bool
	Embedded       ingest.NATSOptions
	WebSocket      ingest.WSOptions
	// TopicVars are the variables of Decode.TopicPattern, in order.
	TopicVars []string
}

// PipelinePlan is one compiled pipeline.
type PipelinePlan struct {
	// Config is the pipeline's section of the file.
	Config *Pipeline
	// From are the indexes in Compiled.Sources of the pipeline's sources,
	// in the order of its from list (record.Sample.Source).
	From []int
	// Fields are the pipeline's field names by field id: the configured
	// list, or the union of its sources' fields in order of appearance.
	Fields []string
	// FieldMap[i][f] is the pipeline field id of field f of source From[i],
	// or -1 when the pipeline does not take it.
	FieldMap [][]int32
	// TagRules[i] are the filters on topic variables for source From[i];
	// nil when the pipeline has none.
	TagRules [][]decode.TagRule
	// Operators configures the stateless chain and the windows.
	Operators operators.Config
	// Ring configures each shard's ring; Shards is how many there are.
	Ring   ring.Options
	Shards int
	// Writer and Late configure each shard's frame writers (Logger unset);
	// Late is nil without a late topic.
	Writer sink.WriterOptions
	Late   *sink.LateWriterOptions
}

// Compile checks a defaulted configuration as a whole, turns it into each
// stage's options and runs each stage's own validation. On any problem it
// returns an *Error listing all of them, each at its file, line and
// column. Load calls it; so does pipeline.New, which builds exactly what
// it returns.
func Compile(c *Config) (*Compiled, error) {
	out, ps := compile(c)
	if len(ps) == 0 {
		return out, nil
	}
	e := &Error{}
	for _, p := range ps {
		pos := c.Where(p.Path)
		e.Problems = append(e.Problems, Problem{File: pos.File, Line: pos.Line, Col: pos.Col, Path: p.Path, Msg: p.Msg})
	}
	e.sort()
	return nil, e
}

func compile(c *Config) (*Compiled, problems) {
	ps := c.validate()
	out := &Compiled{Config: c}
	b := &c.NATS.Buffer
	out.NATS = natsd.Options{
		ServerName:  c.Gateway.ID,
		StoreDir:    filepath.Join(c.Gateway.DataDir, "jetstream"),
		Listen:      c.NATS.Listen,
		MQTTListen:  c.NATS.MQTTListen,
		MQTTAckWait: c.NATS.MQTTAckWait.D(),
		MaxStore:    int64(c.NATS.MaxStore),
		SyncAlways:  b.Sync == "always",
		// Users' passwords from password_file and the TLS configuration
		// are read at run time (pipeline).
		AllowAnonymous: c.NATS.Auth.AllowAnonymous,
	}
	userPaths := map[string]string{"users": "auth.users"}
	for i, u := range c.NATS.Auth.Users {
		out.NATS.Users = append(out.NATS.Users, natsd.User{Name: u.User, Password: cmp.Or(u.Password, u.PasswordHash),
			Publish: u.Publish, Subscribe: u.Subscribe})
		userPaths[fmt.Sprintf("users[%d].name", i)] = fmt.Sprintf("auth.users[%d].user", i)
	}
	stageErrors(&ps, "nats", out.NATS.Validate(), userPaths)
	out.Buffer = sink.BufferOptions{MaxBytes: int64(b.MaxBytes), MaxAge: b.MaxAge.D(), OnFull: b.OnFull,
		DuplicateWindow: b.DuplicateWindow.D()}
	if out.Buffer.MaxAge == 0 {
		out.Buffer.MaxAge = -1 // max_age: 0 keeps frames without an age limit
	}
	stageErrors(&ps, "nats.buffer", out.Buffer.Validate(), nil)

	byName := map[string]int{}
	for i := range c.Sources {
		s := &c.Sources[i]
		sp := &SourcePlan{Config: s, Decode: s.Decode.Options()}
		at := fmt.Sprintf("sources[%d]", i)
		stageErrors(&ps, at+".decode", sp.Decode.Validate(), nil)
		compileTransport(&ps, at, c, sp)
		if sp.Decode.TopicPattern != "" {
			if tp, err := decode.ParseTopicPattern(sp.Decode.TopicPattern); err == nil {
				sp.TopicVars = tp.Vars()
			}
		}
		if _, dup := byName[s.Name]; !dup {
			byName[s.Name] = i
		}
		out.Sources = append(out.Sources, sp)
	}
	for i := range c.Pipelines {
		if pp := compilePipeline(&ps, c, i, out.Sources, byName); pp != nil {
			out.Pipelines = append(out.Pipelines, pp)
		}
	}
	if len(ps) == 0 {
		// The estimate is meaningful only for options the stages accept.
		out.Memory().check(&ps)
	}
	return out, ps
}

// compilePipeline compiles pipelines[i]; it returns nil when a problem
// keeps it from being built at all (a source that does not exist).
func compilePipeline(ps *problems, c *Config, i int, sources []*SourcePlan, byName map[string]int) *PipelinePlan {
	p := &c.Pipelines[i]
	at := fmt.Sprintf("pipelines[%d]", i)
	pp := &PipelinePlan{Config: p}
	for j, name := range p.From {
		si, ok := byName[name]
		if !ok {
			ps.add(fmt.Sprintf("%s.from[%d]", at, j), "no source named %q%s", name, didYouMean(name, sourceNames(c)))
			continue
		}
		pp.From = append(pp.From, si)
	}
	if len(pp.From) != len(p.From) {
		return nil
	}

	// Fields: the configured list, or the union of the sources' fields.
	index := map[string]int32{}
	addField := func(name string) {
		if _, ok := index[name]; !ok {
			index[name] = int32(len(pp.Fields))
			pp.Fields = append(pp.Fields, name)
		}
	}
	known := map[string]bool{}
	for _, si := range pp.From {
		for _, f := range sources[si].Config.Decode.FieldNames() {
			known[f] = true
		}
	}
	for j, f := range p.Fields {
		if !known[f] {
			ps.add(fmt.Sprintf("%s.fields[%d]", at, j), "no source in from has a field %q%s", f, didYouMean(f, slices.Sorted(maps.Keys(known))))
		}
		addField(f)
	}
	for _, si := range pp.From {
		names := sources[si].Config.Decode.FieldNames()
		m := make([]int32, 0, len(names))
		for _, f := range names {
			if len(p.Fields) == 0 {
				addField(f)
			}
			id, ok := index[f]
			if !ok {
				id = -1
			}
			m = append(m, id)
		}
		pp.FieldMap = append(pp.FieldMap, m)
	}

	oc, opPaths := operatorOptions(ps, at, p, pp, known)
	oc.Sources = len(p.From)
	// Pipeline scope queues the pipeline watermark into the rings as
	// markers (pipe.markers); in series scope each shard owns its series'
	// time and no marker is needed.
	oc.InBandWatermarks = !oc.SeriesScope()
	pp.Operators = oc
	stageErrors(ps, at, oc.Validate(), opPaths)

	pp.TagRules = tagRules(ps, at, p, pp, sources)

	pp.Ring = ring.Options{Capacity: p.Ring.Capacity, Policy: p.Ring.Policy}
	pp.Shards = p.Ring.Shards
	stageErrors(ps, at+".ring", pp.Ring.Validate(), nil)
	if pp.Shards < 1 || pp.Shards > 256 {
		ps.add(at+".ring.shards", "must be between 1 and 256, not %d", pp.Shards)
	}

	pp.Writer = sink.WriterOptions{Gateway: c.Gateway.ID, Pipeline: p.Name, Topic: p.To.Topic,
		Columns: columns(oc.Aggregates), Format: p.To.Format, Key: p.To.Key, Compression: p.To.Compression,
		WindowSpec: oc.Spec()}
	stageErrors(ps, at+".to", pp.Writer.Validate(), map[string]string{"topic": "topic", "format": "format", "key": "key", "compression": "compression"})
	if p.To.LateTopic != "" {
		pp.Late = &sink.LateWriterOptions{Gateway: c.Gateway.ID, Pipeline: p.Name, Topic: p.To.LateTopic}
		stageErrors(ps, at+".to", pp.Late.Validate(), map[string]string{"topic": "late_topic"})
	}
	return pp
}

// operatorOptions maps a pipeline's window, aggregates and stateless
// rules to operators.Config, and returns the YAML path of each operators
// option for its errors.
func operatorOptions(ps *problems, at string, p *Pipeline, pp *PipelinePlan, known map[string]bool) (operators.Config, map[string]string) {
	w := &p.Window
	paths := map[string]string{
		"kind": "window.type", "size": "window.size", "advance": "window.advance", "gap": "window.gap",
		"offset": "window.offset", "out_of_order": "window.out_of_orderness",
		"allowed_lateness": "window.allowed_lateness", "mode": "window.emit", "time_mode": "window.time",
		"idle_timeout": "window.idle_timeout", "max_open_windows": "window.max_open_windows", "watermark": "window.watermark",
		"aggregates": "aggregates", "quantiles": "aggregates", "max_series": "max_series",
		"fields": "fields", "shards": "ring.shards",
	}
	set, qs, err := operators.ParseAggregates(p.Aggregates)
	if err != nil {
		ps.add(at+".aggregates", "%v", err)
	}
	if set == 0 && len(qs) == 0 && err == nil {
		ps.add(at+".aggregates", "at least one aggregate is required")
	}
	oc := operators.Config{
		Kind:            w.Type,
		Size:            w.Size.Ms(),
		Advance:         w.Advance.Ms(),
		Gap:             w.Gap.Ms(),
		Offset:          w.Offset.Ms(),
		OutOfOrder:      w.OutOfOrderness.Ms(),
		AllowedLateness: w.AllowedLateness.Ms(),
		IdleTimeout:     w.IdleTimeout.Ms(),
		Watermark:       w.Watermark,
		Mode:            w.Emit,
		TimeMode:        w.Time,
		Aggregates:      set,
		Quantiles:       qs,
		MaxSeries:       p.MaxSeries,
		Fields:          max(len(pp.Fields), 1),
		MaxOpenWindows:  w.MaxOpenWindows,
		Shards:          p.Ring.Shards,
		Dedup:           p.Dedup,
	}
	for _, d := range []struct {
		name string
		v    Duration
	}{{"size", w.Size}, {"advance", w.Advance}, {"gap", w.Gap}, {"offset", w.Offset}} {
		if d.v.D()%1e6 != 0 {
			ps.add(at+".window."+d.name, "%s is not a whole number of milliseconds", d.v.D())
		}
	}
	fieldID := func(path, name string) int {
		switch {
		case name == "*":
			return operators.AllFields
		case name == "":
			ps.add(path, "field is required (a field name or \"*\")")
		case !known[name] && !slices.Contains(p.Fields, name):
			ps.add(path, "no field %q in the pipeline's sources%s", name, didYouMean(name, pp.Fields))
		}
		return slices.Index(pp.Fields, name) // -1 is refused by operators.Validate
	}
	for j, r := range p.Filter {
		path := fmt.Sprintf("%s.filter[%d]", at, j)
		if r.Tag != "" || r.In != nil || r.NotIn != nil {
			continue // on a tag: tagRules
		}
		paths[fmt.Sprintf("filters[%d]", len(oc.Filters))] = fmt.Sprintf("filter[%d]", j)
		f := operators.Filter{Field: fieldID(path+".field", r.Field)}
		kinds := 0
		if r.Min != nil || r.Max != nil {
			kinds++
			f.Op, f.Min, f.Max = operators.InRange, math.Inf(-1), math.Inf(1)
			if r.Min != nil {
				f.Min = *r.Min
			}
			if r.Max != nil {
				f.Max = *r.Max
			}
		}
		if r.Equals != nil {
			kinds++
			f.Op, f.Min = operators.Equal, *r.Equals
		}
		if r.NotEquals != nil {
			kinds++
			f.Op, f.Min = operators.NotEqual, *r.NotEquals
		}
		if kinds != 1 {
			ps.add(path, "set min/max, equals or not_equals (exactly one kind)")
		}
		oc.Filters = append(oc.Filters, f)
	}
	for j, r := range p.Map {
		path := fmt.Sprintf("%s.map[%d]", at, j)
		paths[fmt.Sprintf("maps[%d]", len(oc.Maps))] = fmt.Sprintf("map[%d]", j)
		m := operators.FieldMap{Field: fieldID(path+".field", r.Field), Scale: 1, Offset: r.Offset}
		if r.Scale != nil {
			m.Scale = *r.Scale
		}
		switch {
		case r.From != "" || r.To != "":
			if r.Scale != nil || r.Offset != 0 {
				ps.add(path, "use scale/offset or from/to, not both")
			} else if sc, off, err := operators.UnitConversion(r.From, r.To); err != nil {
				ps.add(path+".from", "%v", err)
			} else {
				m.Scale, m.Offset = sc, off
			}
		case r.Scale == nil && r.Offset == 0:
			ps.add(path, "set scale and/or offset, or from and to")
		}
		oc.Maps = append(oc.Maps, m)
	}
	for j, r := range p.Deadband {
		path := fmt.Sprintf("%s.deadband[%d]", at, j)
		paths[fmt.Sprintf("deadbands[%d]", len(oc.Deadbands))] = fmt.Sprintf("deadband[%d]", j)
		oc.Deadbands = append(oc.Deadbands, operators.Deadband{Field: fieldID(path+".field", r.Field),
			Threshold: r.Threshold, MaxGap: r.MaxGap.Ms()})
	}
	return oc, paths
}

// tagRules compiles the pipeline's filters on tags for each of its
// sources: a tag must be a variable of every source's topic_pattern.
func tagRules(ps *problems, at string, p *Pipeline, pp *PipelinePlan, sources []*SourcePlan) [][]decode.TagRule {
	var out [][]decode.TagRule
	for j, r := range p.Filter {
		path := fmt.Sprintf("%s.filter[%d]", at, j)
		if r.Tag == "" && r.In == nil && r.NotIn == nil {
			continue
		}
		if !checkTagRule(ps, path, &r) {
			continue
		}
		if out == nil {
			out = make([][]decode.TagRule, len(pp.From))
		}
		for k, si := range pp.From {
			sp := sources[si]
			name := sp.Config.Name
			if sp.Decode.TopicPattern == "" {
				ps.add(path+".tag", "source %q (from[%d]) has no topic_pattern, so no tag %q", name, k, r.Tag)
				continue
			}
			v := slices.Index(sp.TopicVars, r.Tag)
			if v < 0 {
				if sp.TopicVars != nil {
					ps.add(path+".tag", "source %q (from[%d]): topic_pattern %q has no variable {%s}%s",
						name, k, sp.Decode.TopicPattern, r.Tag, didYouMean(r.Tag, sp.TopicVars))
				}
				continue
			}
			tr := decode.TagRule{Var: v, Min: math.Inf(-1), Max: math.Inf(1)}
			switch {
			case r.In != nil:
				tr.Test, tr.Set = decode.TagIn, r.In
			case r.NotIn != nil:
				tr.Test, tr.Set = decode.TagNotIn, r.NotIn
			default:
				tr.Test = decode.TagRange
				if r.Min != nil {
					tr.Min = *r.Min
				}
				if r.Max != nil {
					tr.Max = *r.Max
				}
			}
			out[k] = append(out[k], tr)
		}
	}
	return out
}

// checkTagRule checks the shape of a filter rule on a tag.
func checkTagRule(ps *problems, at string, r *FilterRule) bool {
	switch {
	case r.Tag == "":
		ps.add(at+".tag", "in and not_in test a tag: set tag (a topic_pattern variable)")
		return false
	case r.Field != "":
		ps.add(at, "set field or tag, not both")
		return false
	case r.Equals != nil || r.NotEquals != nil:
		ps.add(at, "equals and not_equals test fields; for a tag use in: [value] or not_in: [value]")
		return false
	}
	n := 0
	for _, set := range []bool{r.In != nil, r.NotIn != nil, r.Min != nil || r.Max != nil} {
		if set {
			n++
		}
	}
	ok := true
	if n != 1 {
		ps.add(at, "set in, not_in or min/max (exactly one kind)")
		ok = false
	}
	if r.In != nil && len(r.In) == 0 {
		ps.add(at+".in", "in needs at least one value")
		ok = false
	}
	if r.Min != nil && r.Max != nil && *r.Min > *r.Max {
		ps.add(at+".min", "min %v is above max %v", *r.Min, *r.Max)
		ok = false
	}
	return ok
}

// columns maps an aggregate set to the JSON columns the writer emits: the
// one place the operators' AggSet meets the sink's Columns.
func columns(set operators.AggSet) sink.Columns {
	var c sink.Columns
	for _, m := range []struct {
		a operators.AggSet
		c sink.Columns
	}{
		{operators.Sum, sink.ColSum}, {operators.Min, sink.ColMin}, {operators.Max, sink.ColMax},
		{operators.Mean, sink.ColMean}, {operators.First, sink.ColFirst}, {operators.Last, sink.ColLast},
		{operators.Variance, sink.ColVariance}, {operators.Stddev, sink.ColStddev}, {operators.Rate, sink.ColRate},
		{operators.Quantiles, sink.ColQuantiles},
	} {
		if set&m.a != 0 {
			c |= m.c
		}
	}
	return c
}

// stageErrors adds a stage's record.OptionErrors at YAML paths: each
// error's Option, renamed through paths when it is there (an entry
// "filters[0]" also renames "filters[0].field"), is appended to at.
func stageErrors(ps *problems, at string, err error, paths map[string]string) {
	if err == nil {
		return
	}
	var list record.OptionErrors
	if !errors.As(err, &list) {
		ps.add(at, "%v", err)
		return
	}
	for _, e := range list {
		opt := e.Option
		if y, ok := paths[opt]; ok {
			opt = y
		} else {
			for from, to := range paths {
				if len(opt) > len(from) && opt[:len(from)] == from && (opt[len(from)] == '.' || opt[len(from)] == '[') {
					opt = to + opt[len(from):]
					break
				}
			}
		}
		path := at
		if opt != "" {
			path += "." + opt
		}
		ps.add(path, "%s", e.Msg)
	}
}

func sourceNames(c *Config) []string {
	names := make([]string, len(c.Sources))
	for i := range c.Sources {
		names[i] = c.Sources[i].Name
	}
	return names
}

// didYouMean returns ` (did you mean "x"?)` when a candidate is close to
// name, else "".
func didYouMean(name string, candidates []string) string {
	if s := suggest(name, candidates); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// compileTransport builds a source's transport options and runs their
// Validate.
func compileTransport(ps *problems, at string, c *Config, sp *SourcePlan) {
	s := sp.Config
	switch s.Type {
	case SourceMQTT:
		m := &s.MQTT
		sp.MQTT = ingest.MQTTOptions{Name: s.Name, Broker: m.Broker, Topics: m.Topics, SplitTopics: m.SplitTopics,
			QoS: byte(min(max(m.QoS, 0), 255)), ClientID: m.ClientID, CleanSession: m.CleanSession, Username: m.Username,
			Connections: m.Connections, KeepAlive: m.KeepAlive.D(), PingTimeout: m.PingTimeout.D(),
			StaleTimeout: m.StaleTimeout.D(), HoldAcks: m.HoldAcks, MaxUnacked: m.MaxUnacked}
		if m.QoS < 0 || m.QoS > 255 {
			ps.add(at+".mqtt.qos", "qos must be 0 or 1, not %d", m.QoS)
		}
		check := sp.MQTT
		if m.Broker == "embedded" {
			// The listener's address is known once it listens; validate
			// with the configured one.
			sp.EmbeddedBroker = true
			sp.MQTT.Broker = ""
			check.Broker = "tcp://" + c.NATS.MQTTListen
			if c.NATS.MQTTListen == "" {
				check.Broker = "tcp://127.0.0.1:1883" // reported by validateSource
			}
		}
		stageErrors(ps, at+".mqtt", check.Validate(), nil)
	case SourceEmbedded:
		e := &s.Embedded
		sp.Embedded = ingest.NATSOptions{Name: s.Name, Topics: e.Topics, Queue: "edgeplane-" + s.Name,
			Subscribers: e.Subscribers, PendingMsgs: e.PendingMsgs, PendingBytes: int(e.PendingBytes)}
		stageErrors(ps, at+".embedded", sp.Embedded.Validate(), nil)
	case SourceWebSocket:
		w := &s.WebSocket
		sp.WebSocket = ingest.WSOptions{Name: s.Name, Listen: w.Listen, Path: w.Path, Topic: w.Topic,
			TLSCertFile: w.TLSCertFile, TLSKeyFile: w.TLSKeyFile, MaxFrame: w.MaxFrame, MaxConns: w.MaxConns,
			RateLimit: w.RateLimit, Burst: w.Burst, IdleTimeout: w.IdleTimeout.D()}
		stageErrors(ps, at+".websocket", sp.WebSocket.Validate(), nil)
	}
}

// sort orders the problems by file, then line.
func (e *Error) sort() {
	sort.SliceStable(e.Problems, func(i, j int) bool {
		a, b := e.Problems[i], e.Problems[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
}
