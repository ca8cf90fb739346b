package decode

import (
	"math"
	"testing"
)

func TestTagsPass(t *testing.T) {
	inf := math.Inf(1)
	floor := func(min, max float64) TagRule { return TagRule{Var: 1, Test: TagRange, Min: min, Max: max} }
	for _, tc := range []struct {
		name  string
		rules []TagRule
		vars  []string
		want  bool
	}{
		{"no rules", nil, []string{"d1"}, true},
		{"in", []TagRule{{Var: 0, Test: TagIn, Set: []string{"d1", "d2"}}}, []string{"d2", "3"}, true},
		{"not in set", []TagRule{{Var: 0, Test: TagIn, Set: []string{"d1"}}}, []string{"d2", "3"}, false},
		{"not_in", []TagRule{{Var: 0, Test: TagNotIn, Set: []string{"d1"}}}, []string{"d2", "3"}, true},
		{"not_in hit", []TagRule{{Var: 0, Test: TagNotIn, Set: []string{"d1"}}}, []string{"d1", "3"}, false},
		{"range", []TagRule{floor(1, 5)}, []string{"d1", "3"}, true},
		{"range edges", []TagRule{floor(3, 3)}, []string{"d1", "3.0"}, true},
		{"below", []TagRule{floor(4, inf)}, []string{"d1", "3"}, false},
		{"not a number", []TagRule{floor(-inf, inf)}, []string{"d1", "ground"}, false},
		{"nan", []TagRule{floor(-inf, inf)}, []string{"d1", "nan"}, false},
		{"junk number", []TagRule{floor(-inf, inf)}, []string{"d1", "1-2"}, false},
		{"missing var", []TagRule{floor(-inf, inf)}, []string{"d1"}, false},
		{"all must pass", []TagRule{{Var: 0, Test: TagIn, Set: []string{"d1"}}, floor(5, 9)}, []string{"d1", "3"}, false},
	} {
		if got := TagsPass(tc.rules, tc.vars); got != tc.want {
			t.Errorf("%s: TagsPass(%v) = %v, want %v", tc.name, tc.vars, got, tc.want)
		}
	}
	if raceEnabled {
		return
	}
	rules := []TagRule{{Var: 0, Test: TagNotIn, Set: []string{"d1"}}, floor(0, 9)}
	vars := []string{"d2", "ground"}
	if n := testing.AllocsPerRun(100, func() { TagsPass(rules, vars) }); n != 0 {
		t.Fatalf("TagsPass allocates %v times", n)
	}
}
