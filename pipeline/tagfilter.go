package pipeline

import (
	"fmt"
	"math"
	"slices"

	"github.com/edgeplane/edgeplane/decode"

	"github.com/edgeplane/edgeplane/config"
)

// Filters on tags (config.FilterRule with tag): they test a message's
// topic variables, so they run in deliver, once per message, before its
// readings are interned or queued. Filters on fields run in the operators.

// tagTest is what a tag rule checks.
type tagTest uint8

const (
	tagIn tagTest = iota
	tagNotIn
	tagRange
)

// tagRule is a filter rule on a tag, compiled for one source.
type tagRule struct {
	v        int // index of the tag in the source's topic_pattern variables
	test     tagTest
	set      []string
	min, max float64
}

// compileTagRules returns the tag rules of p per source of p.From, or nil
// when p has none.
func compileTagRules(cfg *config.Config, p *config.Pipeline) ([][]tagRule, error) {
	var out [][]tagRule
	for _, r := range p.Filter {
		if r.Tag == "" {
			continue
		}
		if out == nil {
			out = make([][]tagRule, len(p.From))
		}
		for si, name := range p.From {
			src := cfg.Source(name)
			if src == nil || src.Decode.TopicPattern == "" {
				return nil, fmt.Errorf("filter on tag %q: source %q has no topic_pattern", r.Tag, name)
			}
			tp, err := decode.ParseTopicPattern(src.Decode.TopicPattern)
			if err != nil {
				return nil, err
			}
			v := slices.Index(tp.Vars(), r.Tag)
			if v < 0 {
				return nil, fmt.Errorf("filter on tag %q: not a variable of source %q's topic_pattern", r.Tag, name)
			}
			tr := tagRule{v: v, min: math.Inf(-1), max: math.Inf(1)}
			switch {
			case r.In != nil:
				tr.test, tr.set = tagIn, r.In
			case r.NotIn != nil:
				tr.test, tr.set = tagNotIn, r.NotIn
			default:
				tr.test = tagRange
				if r.Min != nil {
					tr.min = *r.Min
				}
				if r.Max != nil {
					tr.max = *r.Max
				}
			}
			out[si] = append(out[si], tr)
		}
	}
	return out, nil
}

// tagsPass reports whether a message with topic variables vars passes
// every rule.
func tagsPass(rules []tagRule, vars []string) bool {
	for i := range rules {
		r := &rules[i]
		if r.v >= len(vars) {
			return false
		}
		val := vars[r.v]
		switch r.test {
		case tagIn:
			if !slices.Contains(r.set, val) {
				return false
			}
		case tagNotIn:
			if slices.Contains(r.set, val) {
				return false
			}
		case tagRange:
			x, ok := decode.ParseNumber(val)
			if !ok || x < r.min || x > r.max {
				return false
			}
		}
	}
	return true
}
