package bench

import (
	"fmt"
	"math"
)

// searchRate runs the rate search of s, calling probe for each phase, and
// says why it stopped (a Limit* constant and a sentence). baseline is the
// bare subscriber's ceiling on the same broker (0: unknown).
//
// The rates are s.Rates in order when given, else s.Start × s.Factor^i
// (and ÷ Factor while nothing is sustained yet), at most s.MaxSteps of
// them. The search stops at the first step not sustained after a
// sustained one, at a sustained step where the generator could not offer
// the rate (the host's limit), past s.MaxRate, or when the steps run out;
// then s.Refine bisection steps narrow the gap between the last sustained
// rate and the first one that was not.
func searchRate(s *StepSpec, baseline float64, probe func(rate float64) (*PhaseReport, error)) (limit, detail string, err error) {
	steps := s.MaxSteps
	if len(s.Rates) > 0 {
		steps = len(s.Rates)
	}
	limit, detail = LimitStepCap, fmt.Sprintf("every one of the %d steps was sustained: no limit found, the sustained rate is a lower bound", steps)
	var good, bad float64
	rate := s.Start
	for i := 0; i < steps; i++ {
		if len(s.Rates) > 0 {
			rate = s.Rates[i]
		}
		ph, err := probe(rate)
		if err != nil {
			return "", "", err
		}
		if ph.Sustained && ph.GeneratorBound {
			return LimitGenerator, fmt.Sprintf("the generator could not offer %s msg/s on this host (it reached %s msg/s) and edgeplane kept up with all of it; the sustained rate is a lower bound, bounded by the host",
				fmtRate(rate), fmtRate(ph.Achieved)), nil
		}
		if ph.Sustained {
			good = rate
			rate *= s.Factor
			if len(s.Rates) == 0 && s.MaxRate > 0 && rate > s.MaxRate {
				limit, detail = LimitMaxRate, fmt.Sprintf("every step up to max_rate %s msg/s was sustained", fmtRate(s.MaxRate))
				break
			}
			continue
		}
		bad = rate
		if good > 0 || len(s.Rates) > 0 {
			break
		}
		rate /= s.Factor // nothing sustained yet: step down
	}
	switch {
	case good == 0:
		return LimitNone, fmt.Sprintf("no step was sustained, down to %s msg/s", fmtRate(bad)), nil
	case bad == 0:
		return limit, detail, nil
	}
	for i := 0; i < s.Refine && bad > good; i++ {
		mid := math.Round((good + bad) / 2)
		ph, err := probe(mid)
		if err != nil {
			return "", "", err
		}
		if ph.Sustained && !ph.GeneratorBound {
			good = mid
		} else {
			bad = mid
		}
	}
	limit, detail = LimitEdgeplane, fmt.Sprintf("%s msg/s was sustained and %s msg/s was not", fmtRate(good), fmtRate(bad))
	if baseline > 0 && bad > baseline {
		limit = LimitBroker
		detail += fmt.Sprintf(", but the bare subscriber received at most %s msg/s from the same broker: the broker or the host is the limit", fmtRate(baseline))
	}
	return limit, detail, nil
}
