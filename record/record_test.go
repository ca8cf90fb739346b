package record

import (
	"math"
	"testing"
)

func TestAggregateDerived(t *testing.T) {
	a := Aggregate{Count: 4, Sum: 10, WMean: 2.5, M2: 5, Start: 100, End: 200}
	if a.Mean() != 2.5 || a.Variance() != 1.25 || math.Abs(a.SampleVariance()-5.0/3) > 1e-15 || a.Timestamp() != 199 {
		t.Fatalf("mean %v var %v svar %v ts %d", a.Mean(), a.Variance(), a.SampleVariance(), a.Timestamp())
	}
	var z Aggregate
	if z.Mean() != 0 || z.Variance() != 0 || z.SampleVariance() != 0 {
		t.Fatal("empty aggregate derived values not 0")
	}
}
