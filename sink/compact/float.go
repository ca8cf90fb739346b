package compact

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
)

// Float column encodings (see the package doc).
const (
	floatRaw     = 0
	floatXOR     = 1
	floatDecimal = 2
)

// maxDecimalScale bounds the decimal encoding's k.
const maxDecimalScale = 6

var pow10 = [...]float64{1, 10, 100, 1e3, 1e4, 1e5, 1e6}

// appendFloats appends vals as one float column in the smallest of the
// three encodings. It allocates only if dst must grow.
func appendFloats(dst []byte, vals []float64) []byte {
	mark := len(dst)
	dst = appendXOR(dst, vals)
	best := len(dst) - mark
	if raw := 1 + 8*len(vals); raw < best {
		dst = appendRaw(dst[:mark], vals)
		best = raw
	}
	if k, ok := decimalScale(vals); ok {
		start := len(dst)
		dst = appendDecimal(dst, vals, k)
		if n := len(dst) - start; n < best {
			copy(dst[mark:], dst[start:])
			dst = dst[:mark+n]
		} else {
			dst = dst[:start]
		}
	}
	return dst
}

func appendRaw(dst []byte, vals []float64) []byte {
	dst = append(dst, floatRaw)
	for _, v := range vals {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
	}
	return dst
}

func appendXOR(dst []byte, vals []float64) []byte {
	dst = append(dst, floatXOR)
	var prev uint64
	for _, v := range vals {
		b := math.Float64bits(v)
		x := b ^ prev
		prev = b
		if x == 0 {
			dst = append(dst, 0x80)
			continue
		}
		lead := bits.LeadingZeros64(x) / 8
		trail := bits.TrailingZeros64(x) / 8
		dst = append(dst, byte(lead<<4|trail))
		for i := 7 - lead; i >= trail; i-- {
			dst = append(dst, byte(x>>(8*uint(i))))
		}
	}
	return dst
}

// decimalScale returns the smallest k for which every value is
// int/10^k exactly, bit for bit (so -0, NaN and ±Inf never qualify).
func decimalScale(vals []float64) (int, bool) {
	k := 0
	for _, v := range vals {
		for ; k <= maxDecimalScale; k++ {
			if decimalExact(v, k) {
				break
			}
		}
		if k > maxDecimalScale {
			return 0, false
		}
	}
	// A value exact at a smaller scale is not always exact at k: check.
	for _, v := range vals {
		if !decimalExact(v, k) {
			return 0, false
		}
	}
	return k, true
}

func decimalExact(v float64, k int) bool {
	s := v * pow10[k]
	if !(math.Abs(s) < 1<<53) { // also rejects NaN
		return false
	}
	// Through int64, as the decoder sees it: this also rejects -0.
	i := int64(math.Round(s))
	return math.Float64bits(float64(i)/pow10[k]) == math.Float64bits(v)
}

func appendDecimal(dst []byte, vals []float64, k int) []byte {
	dst = append(dst, floatDecimal, byte(k))
	var prev int64
	for _, v := range vals {
		i := int64(math.Round(v * pow10[k]))
		dst = binary.AppendVarint(dst, i-prev)
		prev = i
	}
	return dst
}

// floats decodes a float column of n values, appending to dst.
func (d *reader) floats(dst []float64, n int, what string) []float64 {
	if d.err != nil {
		return dst
	}
	enc := d.byte(what)
	switch enc {
	case floatRaw:
		if len(d.p) < 8*n {
			d.fail("%s: %d raw floats need %d bytes, %d left", what, n, 8*n, len(d.p))
			return dst
		}
		for i := 0; i < n; i++ {
			dst = append(dst, math.Float64frombits(binary.LittleEndian.Uint64(d.p[8*i:])))
		}
		d.p = d.p[8*n:]
	case floatXOR:
		var prev uint64
		for i := 0; i < n && d.err == nil; i++ {
			c := d.byte(what)
			lead, trail := int(c>>4), int(c&0xf)
			if c == 0x80 {
				dst = append(dst, math.Float64frombits(prev))
				continue
			}
			if lead+trail >= 8 {
				d.fail("%s: value %d: bad xor control byte %#x", what, i, c)
				break
			}
			m := 8 - lead - trail
			if len(d.p) < m {
				d.fail("%s: value %d: %d xor bytes past end", what, i, m)
				break
			}
			var x uint64
			for _, b := range d.p[:m] {
				x = x<<8 | uint64(b)
			}
			d.p = d.p[m:]
			prev ^= x << (8 * uint(trail))
			dst = append(dst, math.Float64frombits(prev))
		}
	case floatDecimal:
		k := int(d.byte(what))
		if d.err == nil && k > maxDecimalScale {
			d.fail("%s: decimal scale %d > %d", what, k, maxDecimalScale)
		}
		var prev int64
		for i := 0; i < n && d.err == nil; i++ {
			prev += d.varint(what)
			dst = append(dst, float64(prev)/pow10[k])
		}
	default:
		if d.err == nil {
			d.fail("%s: unknown float encoding %d", what, enc)
		}
	}
	return dst
}

func (d *reader) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
	}
}
