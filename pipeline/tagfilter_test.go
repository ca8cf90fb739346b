package pipeline

import (
	"math"
	"testing"
)

func TestTagsPass(t *testing.T) {
	inf := math.Inf(1)
	floor := func(min, max float64) tagRule { return tagRule{v: 1, test: tagRange, min: min, max: max} }
	for _, tc := range []struct {
		name  string
		rules []tagRule
		vars  []string
		want  bool
	}{
		{"no rules", nil, []string{"d1"}, true},
		{"in", []tagRule{{v: 0, test: tagIn, set: []string{"d1", "d2"}}}, []string{"d2", "3"}, true},
		{"not in set", []tagRule{{v: 0, test: tagIn, set: []string{"d1"}}}, []string{"d2", "3"}, false},
		{"not_in", []tagRule{{v: 0, test: tagNotIn, set: []string{"d1"}}}, []string{"d2", "3"}, true},
		{"not_in hit", []tagRule{{v: 0, test: tagNotIn, set: []string{"d1"}}}, []string{"d1", "3"}, false},
		{"range", []tagRule{floor(1, 5)}, []string{"d1", "3"}, true},
		{"range edges", []tagRule{floor(3, 3)}, []string{"d1", "3.0"}, true},
		{"below", []tagRule{floor(4, inf)}, []string{"d1", "3"}, false},
		{"not a number", []tagRule{floor(-inf, inf)}, []string{"d1", "ground"}, false},
		{"nan", []tagRule{floor(-inf, inf)}, []string{"d1", "nan"}, false},
		{"junk number", []tagRule{floor(-inf, inf)}, []string{"d1", "1-2"}, false},
		{"missing var", []tagRule{floor(-inf, inf)}, []string{"d1"}, false},
		{"all must pass", []tagRule{{v: 0, test: tagIn, set: []string{"d1"}}, floor(5, 9)}, []string{"d1", "3"}, false},
	} {
		if got := tagsPass(tc.rules, tc.vars); got != tc.want {
			t.Errorf("%s: tagsPass(%v) = %v, want %v", tc.name, tc.vars, got, tc.want)
		}
	}
	if raceEnabled {
		return
	}
	rules := []tagRule{{v: 0, test: tagNotIn, set: []string{"d1"}}, floor(0, 9)}
	vars := []string{"d2", "ground"}
	if n := testing.AllocsPerRun(100, func() { tagsPass(rules, vars) }); n != 0 {
		t.Fatalf("tagsPass allocates %v times", n)
	}
}
