package decode

import "slices"

// TagTest is what a TagRule checks of a topic variable's value.
type TagTest uint8

// Tag tests.
const (
	// TagIn passes a value that is one of Set.
	TagIn TagTest = iota
	// TagNotIn passes a value that is none of Set.
	TagNotIn
	// TagRange passes a value that reads as a decimal number in
	// [Min, Max]; a value that is not a number fails.
	TagRange
)

// TagRule is a filter on one topic variable (a tag) of a source's
// TopicPattern: a message failing it drops all its readings. Tag rules
// test Batch.Vars, once per message, before its readings are interned.
type TagRule struct {
	// Var indexes the pattern's variables (TopicPattern.Vars) and
	// Batch.Vars.
	Var      int
	Test     TagTest
	Set      []string
	Min, Max float64
}

// TagsPass reports whether a message with topic variables vars passes
// every rule.
func TagsPass(rules []TagRule, vars []string) bool {
	for i := range rules {
		r := &rules[i]
		if r.Var >= len(vars) {
			return false
		}
		val := vars[r.Var]
		switch r.Test {
		case TagIn:
			if !slices.Contains(r.Set, val) {
				return false
			}
		case TagNotIn:
			if slices.Contains(r.Set, val) {
				return false
			}
		case TagRange:
			x, ok := ParseNumber(val)
			if !ok || x < r.Min || x > r.Max {
				return false
			}
		}
	}
	return true
}
