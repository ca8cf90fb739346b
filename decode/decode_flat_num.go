package decode

// flatNum is what the scan learned of a number token while finding its
// end. A token of the form -?D+(.D+)? with at most maxFlatDigits digits
// is simple: its value is mant (all digits, the point dropped) over
// 10^frac, negated if neg — the very operations fastfloat.Parse does for
// it, so the value is bit for bit the tree path's. Other tokens are
// handed to fastfloat.Parse.
//
// The shape is packed in one word so that the scan keeps it in a
// register: a struct of narrow fields written one by one and then copied
// whole stalls on store forwarding, which costs more than the scan.
type flatNum struct {
	mant  uint64
	shape numShape
}

// numShape packs a number token's digit counts and flags.
type numShape uint32

const (
	numSimple numShape = 1 << 16
	numNeg    numShape = 1 << 17
	numLead0  numShape = 1 << 18 // the first digit is '0'
)

func (s numShape) simple() bool { return s&numSimple != 0 }
func (s numShape) neg() bool    { return s&numNeg != 0 }
func (s numShape) lead0() bool  { return s&numLead0 != 0 }
func (s numShape) digits() int  { return int(s & 0xff) }      // before the point
func (s numShape) frac() int    { return int(s >> 8 & 0xff) } // after it

// maxFlatDigits bounds a simple number's digits so that fastfloat.Parse
// takes its plain path for it (it falls back to strconv from 17 bytes of
// mantissa on), and the mantissa is exact in a float64.
const maxFlatDigits = 15

// flatPow10 are the divisors fastfloat.Parse uses for fractions.
var flatPow10 = [maxFlatDigits + 1]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// float returns a simple number's value.
func (n *flatNum) float() float64 {
	f := float64(n.mant)
	if fr := n.shape.frac(); fr > 0 {
		f /= flatPow10[fr]
	}
	if n.shape.neg() {
		f = -f
	}
	return f
}

// scanNumber returns the end of the number token at p[i] (the first byte
// fastjson does not take as part of one) and what it learned of the
// token's value on the way: see flatNum. (Reading eight digits at a time
// with word operations was tried: no faster on the hot path, slower for
// the short values sensors send.)
func scanNumber(p []byte, i int) (end int, mant uint64, shape numShape) {
	if p[i] == '-' {
		shape = numNeg
		i++
	}
	ds := i
	for i < len(p) && p[i]-'0' < 10 {
		mant = mant*10 + uint64(p[i]-'0')
		i++
	}
	nd := i - ds
	simple := nd > 0
	frac := 0
	if i < len(p) && p[i] == '.' {
		i++
		fs := i
		for i < len(p) && p[i]-'0' < 10 {
			mant = mant*10 + uint64(p[i]-'0')
			i++
		}
		frac = i - fs
		simple = simple && frac > 0
	}
	if i < len(p) && isNumChar[p[i]] {
		// An exponent, a second sign or point: fastfloat decides.
		return numberEnd(p, i), 0, 0
	}
	if !simple || nd+frac > maxFlatDigits {
		return i, 0, 0
	}
	shape |= numSimple | numShape(nd) | numShape(frac)<<8
	if p[ds] == '0' {
		shape |= numLead0
	}
	return i, mant, shape
}
