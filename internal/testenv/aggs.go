package testenv

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/edgeplane/edgeplane/record"
)

// CityAggregates returns n aggregates shaped like a smart-city air-quality
// pipeline: nSeries sensors × fields, one-minute tumbling windows fired
// together (all series of a window, then the next window), 1 Hz readings
// with one decimal, so min/max/first/last are decimals and sums carry
// floating-point noise. The same seed gives the same aggregates.
func CityAggregates(seed uint64, n, nSeries, nFields int) []record.Aggregate {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	out := make([]record.Aggregate, 0, n)
	base := make([]float64, nSeries*nFields)
	for i := range base {
		base[i] = 5 + r.Float64()*40
	}
	const minute = 60_000
	start := int64(1763683200000)
	for len(out) < n {
		for s := 0; s < nSeries && len(out) < n; s++ {
			for f := 0; f < nFields && len(out) < n; f++ {
				a := record.Aggregate{Series: uint32(s), Field: uint16(f), Kind: record.Tumbling,
					Start: start, End: start + minute, Min: math.Inf(1), Max: math.Inf(-1)}
				b := &base[s*nFields+f]
				*b = math.Max(0, *b+r.NormFloat64())
				cnt := 55 + r.IntN(6)
				var mean float64
				for k := 0; k < cnt; k++ {
					v := math.Round((*b+r.NormFloat64()*2)*10) / 10
					a.Count++
					a.Sum += v
					a.Min, a.Max = math.Min(a.Min, v), math.Max(a.Max, v)
					ts := start + int64(k)*1000 + int64(r.IntN(1000))
					if k == 0 {
						a.First, a.FirstTime = v, ts
					}
					a.Last, a.LastTime = v, ts
					d := v - mean
					mean += d / float64(a.Count)
					a.M2 += d * (v - mean)
				}
				a.WMean = mean
				out = append(out, a)
			}
		}
		start += minute
	}
	return out
}

// SeriesKey is the key of series i in CityAggregates' naming.
func SeriesKey(i int) string { return fmt.Sprintf("city/d%d/air/s-%04d", i%12, i) }

// FieldNames returns n field names: pm25, pm10, no2, o3, then fN.
func FieldNames(n int) []string {
	names := []string{"pm25", "pm10", "no2", "o3"}
	out := make([]string, n)
	for i := range out {
		if i < len(names) {
			out[i] = names[i]
		} else {
			out[i] = fmt.Sprintf("f%d", i)
		}
	}
	return out
}
