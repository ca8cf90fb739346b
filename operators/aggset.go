package operators

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/edgeplane/edgeplane/record"
)

// AggSet is a set of aggregates a pipeline computes.
type AggSet uint32

// Aggregates. Count is always maintained (the others need it); the rest
// cost only when selected.
const (
	Count AggSet = 1 << iota
	Sum
	Min
	Max
	Mean
	First
	Last
	Variance
	Stddev
	Rate
	Quantiles

	aggEnd

	// DefaultAggregates is used when Config.Aggregates is 0.
	DefaultAggregates = Count | Sum | Min | Max | Mean
)

var aggNames = [...]string{"count", "sum", "min", "max", "mean", "first", "last", "variance", "stddev", "rate", "quantiles"}

func (a AggSet) String() string {
	var b strings.Builder
	for i, n := range aggNames {
		if a&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte('|')
			}
			b.WriteString(n)
		}
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// needs derived from an AggSet: which parts of an accumulator to maintain.
func (a AggSet) needSum() bool       { return a&(Sum|Mean) != 0 }
func (a AggSet) needMinMax() bool    { return a&(Min|Max) != 0 }
func (a AggSet) needFirstLast() bool { return a&(First|Last|Rate) != 0 }
func (a AggSet) needWelford() bool   { return a&(Variance|Stddev) != 0 }

// ParseAggregates turns configuration names into an AggSet and a quantile
// list. Names: count, sum, min, max, mean (avg), first, last, variance (var),
// stddev (std), rate, median, and pN quantiles: p50 = 0.5, p95 = 0.95,
// p5 = 0.05, p999 = 0.999 (three or more digits read as a decimal
// fraction), p99.9 = 0.999, p100 = 1. Any quantile sets Quantiles. Every
// unknown name is reported, joined in one error.
func ParseAggregates(names []string) (AggSet, []float64, error) {
	var set AggSet
	var qs []float64
	var errs []error
	for _, raw := range names {
		n := strings.ToLower(strings.TrimSpace(raw))
		switch n {
		case "count":
			set |= Count
		case "sum":
			set |= Sum
		case "min":
			set |= Min
		case "max":
			set |= Max
		case "mean", "avg":
			set |= Mean
		case "first":
			set |= First
		case "last":
			set |= Last
		case "variance", "var":
			set |= Variance
		case "stddev", "std":
			set |= Stddev
		case "rate", "increase":
			set |= Rate
		case "median":
			qs = appendQuantile(qs, 0.5)
		default:
			q, err := parseQuantileName(n)
			if err != nil {
				errs = append(errs, fmt.Errorf("aggregates: unknown aggregate %q: %w", raw, err))
				continue
			}
			qs = appendQuantile(qs, q)
		}
	}
	if len(qs) > 0 {
		set |= Quantiles
	}
	if len(qs) > record.MaxQuantiles {
		errs = append(errs, fmt.Errorf("aggregates: %d quantiles requested, at most %d (record.MaxQuantiles)", len(qs), record.MaxQuantiles))
	}
	return set, qs, errors.Join(errs...)
}

func appendQuantile(qs []float64, q float64) []float64 {
	for _, x := range qs {
		if x == q {
			return qs
		}
	}
	return append(qs, q)
}

func parseQuantileName(n string) (float64, error) {
	if len(n) < 2 || n[0] != 'p' {
		return 0, errors.New("want count, sum, min, max, mean, first, last, variance, stddev, rate, median or pN")
	}
	d := n[1:]
	if d == "100" {
		return 1, nil
	}
	// Percent to fraction by moving the decimal point in the text, so that
	// p99.9 is exactly the float 0.999.
	ip, frac, dotted := strings.Cut(d, ".")
	switch {
	case !dotted && len(ip) > 2:
		ip, frac = "", ip // p999 = 0.999
	case len(ip) > 2:
		return 0, fmt.Errorf("quantile p%s above p100", d)
	default:
		for len(ip) < 2 {
			ip = "0" + ip
		}
	}
	for _, r := range ip + frac {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("quantile p%s: want digits", d)
		}
	}
	q, err := strconv.ParseFloat("0."+ip+frac, 64)
	if err != nil {
		return 0, err
	}
	if !(q >= 0 && q <= 1) {
		return 0, fmt.Errorf("quantile %v outside [0, 1]", q)
	}
	return q, nil
}
