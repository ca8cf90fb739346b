package aggenc

import "strconv"

// An aggregate id is 16 hex digits of a 64-bit FNV-1a hash of (gateway,
// pipeline, series, field, window definition), '-', the window start in
// Unix ms. The start stays readable so ids sort by window, and a collision
// needs the same hash within the same window start.
//
// The window definition (Identity.Window, operators.Config.Spec: kind,
// size, advance, gap, offset, lateness, emit mode) is in the hash so that a
// changed definition never reuses an id for different content: reloading
// a pipeline from 2 s to 4 s windows gives the 4 s windows new ids instead
// of a second "revision 0, final" under the 2 s windows' ids. An empty
// Window is not hashed at all, which gives the ids of the versions before
// the definition was part of them (compact blocks of format EPC1 decode to
// the ids they were sent with).
const hexDigits = "0123456789abcdef"

// AppendID appends the deterministic id of the window that starts at start
// of the series who names.
func AppendID(dst []byte, who *Identity, start int64) []byte {
	const offset64, prime64 = 14695981039346656037, 1099511628211
	h := uint64(offset64)
	for i, s := range [...]string{who.Gateway, who.Pipeline, who.Series, who.Field, who.Window} {
		if i == 4 && s == "" {
			break
		}
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= prime64
		}
		h ^= 0xff // separator: no byte of a valid UTF-8 string is 0xff
		h *= prime64
	}
	for shift := 60; shift >= 0; shift -= 4 {
		dst = append(dst, hexDigits[(h>>uint(shift))&0xf])
	}
	dst = append(dst, '-')
	return strconv.AppendInt(dst, start, 10)
}
