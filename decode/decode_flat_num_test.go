package decode

import (
	"strconv"
	"testing"
)

// numberCases are number tokens around every limit of scanNumber's word
// reads: digit runs of 0 to 17, points, signs, exponents, junk after.
func numberCases() []string {
	cs := []string{"0", "-0", "-", "+1", ".5", "1.", "1..2", "1e5", "1E-2", "-1e+2", "12.4", "-12.25",
		"00012", "007.50", "1-2", "--1", "1.2.3", "9.99999999", "123456789.12345", "1234567890123456",
		"0.000000000000001", "99999999999999.9", "18446744073709551615", "1234567812345678",
		"12345678.1234567", "1.2345678", "12345678", "123456789", "-12345678", "-123456789012345"}
	d := "12345678901234567"
	for n := 1; n <= len(d); n++ {
		for f := 0; f <= 9; f++ {
			c := d[:n]
			if f > 0 {
				c += "." + d[:f]
			}
			cs = append(cs, c, "-"+c, c+"e1", c+"x")
		}
	}
	return cs
}

// TestScanNumber: a token scanNumber calls simple has the value strconv
// reads, and its end is the end of the token, for every case followed by
// every kind of byte, at every distance from the end of the message.
func TestScanNumber(t *testing.T) {
	simple := 0
	for _, c := range numberCases() {
		for _, after := range []string{"", ",", "}", " ", `,"pm25":12.4,"pm10":20.1}`, "0", ".", "e", "a", "\x00"} {
			simple += checkScanNumber(t, []byte(c+after))
		}
	}
	if simple < 1000 {
		t.Fatalf("only %d simple numbers", simple)
	}
}

func checkScanNumber(t *testing.T, p []byte) (simple int) {
	t.Helper()
	for i := 0; i < len(p); i++ {
		e, m, s := scanNumber(p, i)
		if e != numberEnd(p, i) {
			t.Fatalf("scanNumber(%q, %d) ends at %d", p, i, e)
		}
		if !s.simple() {
			continue
		}
		simple++
		tok := string(p[i:e])
		n := flatNum{mant: m, shape: s}
		if f, err := strconv.ParseFloat(tok, 64); err != nil || f != n.float() {
			t.Fatalf("%q: simple value %v, strconv %v %v", tok, n.float(), f, err)
		}
		if s.digits()+s.frac() > maxFlatDigits || s.lead0() != (tok[0] == '0' || tok[0] == '-' && tok[1] == '0') {
			t.Fatalf("%q: shape %#x", tok, s)
		}
	}
	return simple
}

// FuzzScanNumber: for any bytes, a simple number reads as strconv reads it.
func FuzzScanNumber(f *testing.F) {
	for _, c := range numberCases()[:40] {
		f.Add([]byte(c + `,"x":1}`))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		checkScanNumber(t, p)
	})
}
