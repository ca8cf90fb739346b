package decode

// The range of event times a reading may carry: years 0001 to 9999, in
// Unix ms. Anything outside is rejected as time_out_of_range before it can
// overflow later arithmetic.
const (
	minTimeMs = -62135596800000
	maxTimeMs = 253402300799999
)

// parseRFC3339 parses an RFC 3339 date-time such as
// "2020-02-12T15:15:46.014773143Z" or "2016-03-15T13:00:00.5+02:00" to Unix
// ms, truncating fractional seconds toward the past. It does not allocate.
//
// It accepts 'T', 't' or ' ' between date and time, 'Z' or 'z', a '.' or ','
// before the fraction, any number of fraction digits, and offsets ±hh:mm. It
// rejects a missing offset, seconds 60 (leap seconds, as time.Parse does)
// and days that the month does not have.
func parseRFC3339(s []byte) (int64, bool) {
	if len(s) < 20 {
		return 0, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' ||
		(s[10] != 'T' && s[10] != 't' && s[10] != ' ') {
		return 0, false
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	i := 19
	var frac int64
	if s[i] == '.' || s[i] == ',' {
		i++
		start := i
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if i-start < 3 {
				frac = frac*10 + int64(s[i]-'0')
			}
		}
		n := i - start
		if n == 0 {
			return 0, false
		}
		for ; n < 3; n++ {
			frac *= 10
		}
	}
	if i >= len(s) {
		return 0, false
	}
	var off int64
	switch s[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		if len(s)-i != 6 || s[i+3] != ':' {
			return 0, false
		}
		oh, ok1 := digits(s[i+1 : i+3])
		om, ok2 := digits(s[i+4 : i+6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, false
		}
		off = int64(oh*3600 + om*60)
		if s[i] == '-' {
			off = -off
		}
		i += 6
	default:
		return 0, false
	}
	if i != len(s) {
		return 0, false
	}
	secs := daysFromCivil(int64(year), int64(month), int64(day))*86400 +
		int64(hour*3600+minute*60+sec) - off
	return secs*1000 + frac, true
}

// digits parses a fixed-width run of ASCII digits.
func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the number of days from 1970-01-01 to y-m-d in the
// proleptic Gregorian calendar (H. Hinnant's days_from_civil).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := m + 9
	if m > 2 {
		mp = m - 3
	}
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// parseNumTime converts the decimal number s (JSON number syntax, leniently:
// "-1.5e3", "1763683200123", "1.7636832e9") in unit u to Unix ms, exactly:
// the result is the floor of the value in ms, with no float rounding, so
// "1763683200.123" s is 1763683200123 and 1763683200123999999 ns is
// 1763683200123. With TimeAuto the unit is guessed from the magnitude of
// |value|: below 1e11 seconds, below 1e14 ms, below 1e17 µs, else ns.
//
// ok is false when s is not a number or the result is outside years
// 0001–9999 (range is true in that case, so callers can tell the two
// apart).
func parseNumTime(s []byte, u TimeUnit) (ms int64, ok, outOfRange bool) {
	if ms, ok := parseIntTime(s, u); ok {
		return ms, true, false
	}
	i := 0
	neg := false
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	// The value is 0.d[0]d[1]... × 10^dp.
	var d [20]byte
	nd, dp := 0, 0
	sawDigit, sawDot, dropped := false, false, false
mantissa:
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			sawDigit = true
			if nd == 0 && c == '0' {
				if sawDot {
					dp--
				}
				continue
			}
			if nd < len(d) {
				d[nd] = c - '0'
				nd++
			} else if c != '0' {
				dropped = true
			}
			if !sawDot {
				dp++
			}
		case c == '.' && !sawDot:
			sawDot = true
		default:
			break mantissa
		}
	}
	if !sawDigit {
		return 0, false, false
	}
	if i < len(s) {
		if s[i] != 'e' && s[i] != 'E' {
			return 0, false, false
		}
		i++
		eneg := false
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			eneg = s[i] == '-'
			i++
		}
		if i == len(s) {
			return 0, false, false
		}
		e := 0
		for ; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false, false
			}
			if e < 100000 {
				e = e*10 + int(c-'0')
			}
		}
		if eneg {
			e = -e
		}
		if nd > 0 {
			dp += e
		}
	}
	if nd == 0 {
		return 0, true, false
	}
	if u == TimeAuto {
		switch {
		case dp <= 11:
			u = TimeS
		case dp <= 14:
			u = TimeMS
		case dp <= 17:
			u = TimeUS
		default:
			u = TimeNS
		}
	}
	switch u {
	case TimeS:
		dp += 3
	case TimeUS:
		dp -= 3
	case TimeNS:
		dp -= 6
	}
	if dp > 16 {
		return 0, false, true
	}
	var n int64
	for k := 0; k < dp; k++ {
		n *= 10
		if k < nd {
			n += int64(d[k])
		}
	}
	frac := dropped
	for k := max(dp, 0); k < nd && !frac; k++ {
		frac = d[k] != 0
	}
	if neg {
		n = -n
		if frac {
			n--
		}
	}
	if n < minTimeMs || n > maxTimeMs {
		return 0, false, true
	}
	return n, true, false
}

// parseIntTime is parseNumTime's fast path for the common case, a plain
// integer of 1 to 14 digits without a leading zero in s, ms or auto units;
// it reports false for anything else (which the general code handles,
// giving the same result for what this accepts).
func parseIntTime(s []byte, u TimeUnit) (int64, bool) {
	if len(s) == 0 || len(s) > 14 || s[0] == '0' {
		return 0, false
	}
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return intTimeMs(n, len(s), u)
}

// intTimeMs is parseIntTime's unit conversion for the value n of a plain
// integer of digits digits, no leading zero, at most 14.
func intTimeMs(n int64, digits int, u TimeUnit) (int64, bool) {
	if digits > 14 {
		return 0, false
	}
	if u == TimeAuto {
		u = TimeMS
		if digits <= 11 {
			u = TimeS
		}
	}
	switch u {
	case TimeMS:
		return n, true // 14 digits are within year 9999
	case TimeS:
		if digits > 12 {
			return 0, false
		}
		if n *= 1000; n > maxTimeMs {
			return 0, false
		}
		return n, true
	}
	return 0, false
}
