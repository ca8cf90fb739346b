package config

import "strings"

// suggest returns the candidate name most likely meant by name, a word
// that is none of them, or "" when none is close enough. Names are
// compared without case, '_' or '-' (maxSeries finds max_series), by
// Damerau-Levenshtein distance (optimal string alignment: an insertion,
// deletion, substitution or swap of neighbours each cost 1); a candidate
// is close enough within a third of the longer name's length, and at
// least 1 (out_of_order finds out_of_orderness; id does not find to). On
// a tie the first candidate wins.
func suggest(name string, candidates []string) string {
	n := []rune(normName(name))
	best, bestD := "", -1
	for _, c := range candidates {
		if c == name {
			continue
		}
		m := []rune(normName(c))
		limit := max(1, max(len(n), len(m))/3)
		if d := osaDistance(n, m, limit); d <= limit && (bestD < 0 || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}

func normName(s string) string {
	t := strings.Map(func(r rune) rune {
		if r == '_' || r == '-' {
			return -1
		}
		return r
	}, strings.ToLower(s))
	if t == "" {
		return s
	}
	return t
}

// osaDistance returns the optimal string alignment distance of a and b,
// or limit+1 when it is larger than limit.
func osaDistance(a, b []rune, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	// Three rows: two back (for swaps), previous, current.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d = min(d, prev2[j-2]+1)
			}
			cur[j] = d
			rowMin = min(rowMin, d)
		}
		if rowMin > limit {
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return min(prev[len(b)], limit+1)
}
