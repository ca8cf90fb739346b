package decode

import "encoding/binary"

// Shapes: the flat fast path's steady state.
//
// The messages of one source are nearly always the same text with other
// values: {"id":"s-1","ts":1763683200123,"pm25":12.4} and then
// {"id":"s-2","ts":1763683201123,"pm25":12.9}. After scanAny accepts a
// message, learnShape cuts it into the values (strings' contents,
// numbers, true/false/null) and the literal text around them — names,
// quotes, colons, commas, whitespace, braces. The next message is first
// matched against that shape: each literal must be there byte for byte
// (one or two word compares for most), and each value is scanned as
// scanAny scans it. A message that matches is one scanAny would accept
// with the very same readings, because scanAny's decisions depend only on
// those bytes: the literals are identical, a string value runs to the
// first quote or backslash as there, and a number token ends at the first
// byte that cannot continue it, which the literal after it (learnt from a
// message where it ended there) checks; any scalar (number, true, false,
// null) may stand where the shape had one. Anything else — another member
// order, a new member, an escape, a string for a scalar — misses, and the
// message takes scanAny, which then learns its shape.

// maxShapeMembers and maxShapeText bound a shape; a longer message is
// still scanned, just not learnt.
const (
	maxShapeMembers = 32
	maxShapeText    = 512
)

// hole is one member value scanAny met: its kind, its span ([start, end)
// of a string's contents, a number token or a word), and the names index
// it sets (-1 for members not wanted and for repeats of a name).
type hole struct {
	kind       flatKind
	k          int8
	start, end uint32
}

// shape is a learnt message shape: literal i precedes value i, and tail
// follows the last value up to the end of the message.
type shape struct {
	ok     bool
	segs   []shapeSeg
	tail   []byte
	text   []byte // the literals, back to back
	absent uint64 // names no member of the shape sets
}

// shapeSeg is one literal and the value after it (kind: a string, or
// any scalar). The literal's first 16
// bytes are kept as two words with masks, so matching one that short —
// most are, such as `,"pm25":` — takes two loads when the message has 16
// bytes left from it.
type shapeSeg struct {
	w0, w1, m0, m1 uint64
	off, n         uint16 // the literal in shape.text
	kind           flatKind
	k              int8
}

// noteHole records the value scanAny just read: [start, end) is a
// string's contents or the whole token of any other kind.
func (fp *flatPlan) noteHole(kind flatKind, start, end, k int, first bool) {
	if len(fp.holes) == cap(fp.holes) {
		fp.holesOver = true
		return
	}
	h := hole{kind: kind, k: -1, start: uint32(start), end: uint32(end)}
	if first {
		h.k = int8(k)
	}
	fp.holes = append(fp.holes, h)
}

// learnShape makes p, just accepted by scanAny, the shape the next
// message is matched against; a message too long to learn leaves no
// shape.
func (fp *flatPlan) learnShape(p []byte) {
	t := &fp.tmpl
	t.ok = false
	if fp.holesOver || len(p) > maxShapeText {
		return // too many members, or too long
	}
	t.segs, t.text = t.segs[:0], t.text[:0]
	t.absent = 1<<uint(len(fp.vals)) - 1 // all ones for 64 names
	prev := 0
	for _, h := range fp.holes {
		lit := p[prev:h.start]
		s := shapeSeg{off: uint16(len(t.text)), n: uint16(len(lit)), kind: h.kind, k: h.k}
		s.w0, s.m0 = litWord(lit, 0)
		s.w1, s.m1 = litWord(lit, 8)
		t.text = append(t.text, lit...)
		t.segs = append(t.segs, s)
		if h.k >= 0 {
			t.absent &^= 1 << uint(h.k)
		}
		prev = int(h.end)
	}
	t.tail = append(t.tail[:0], p[prev:]...)
	t.ok = true
}

// litWord returns the bytes of lit from off on (up to eight) as a word
// and the mask of the bytes present.
func litWord(lit []byte, off int) (w, m uint64) {
	for i := min(len(lit), off+8) - 1; i >= off; i-- {
		w = w<<8 | uint64(lit[i])
		m = m<<8 | 0xff
	}
	return w, m
}

// litMatch reports whether p holds segment s's literal at pos.
func (t *shape) litMatch(p []byte, pos int, s *shapeSeg) bool {
	if n := int(s.n); n <= 16 && len(p)-pos >= 16 {
		return binary.LittleEndian.Uint64(p[pos:])&s.m0 == s.w0 &&
			binary.LittleEndian.Uint64(p[pos+8:])&s.m1 == s.w1
	}
	n := int(s.n)
	return len(p)-pos >= n && string(p[pos:pos+n]) == string(t.text[s.off:int(s.off)+n])
}

// scanShape is scan for a message of the learnt shape; it reports false,
// with fp.vals to be rewritten, when p is not of that shape.
func (fp *flatPlan) scanShape(p []byte) bool {
	t := &fp.tmpl
	pos := 0
	for si := range t.segs {
		s := &t.segs[si]
		if !t.litMatch(p, pos, s) {
			return false
		}
		pos += int(s.n)
		if pos >= len(p) {
			return false
		}
		var (
			kind       flatKind
			start, end = pos, 0
			num        flatNum
		)
		if s.kind == flatString {
			end = stringEnd(p, pos)
			if end >= len(p) || p[end] == '\\' {
				return false
			}
			kind = flatString
		} else if kind, end, num = scanScalar(p, pos); kind == flatAbsent {
			return false
		}
		pos = end
		if s.k >= 0 {
			fp.set(int(s.k), kind, start, end, num)
		}
	}
	if string(p[pos:]) != string(t.tail) {
		return false
	}
	fp.markAbsent(t.absent)
	return true
}
