package decode

import (
	"encoding/binary"
	"math"
	"math/bits"
	"unsafe"

	"github.com/valyala/fastjson/fastfloat"

	"github.com/edgeplane/edgeplane/record"
)

// The flat fast path.
//
// Most sensor payloads are one flat JSON object whose wanted values are
// top-level members: {"id":"s-1","ts":1763683200123,"pm25":12.4,...}.
// Building fastjson's tree for them costs more than everything else the
// gateway does with the message, so a json or zigbee2mqtt Decoder whose
// key, time and field paths are all single top-level names first tries a
// one-pass scan that picks those members out as it validates the object,
// with no tree.
//
// The scan is a strict subset of fastjson: it accepts a message only when
// it is one object of scalar members (strings without backslash escapes,
// numbers, true, false, null) that fastjson would parse too, and only when
// the message is accepted as a whole. Anything else — nested values,
// escapes, NaN/Inf tokens, a syntax error, a missing or bad key, time or
// field — makes it give up with b and the Decoder's stats untouched, and
// the message takes the fastjson path, which decides and explains. So both
// paths produce identical readings for every input, which
// FuzzFlatMatchesTree checks.

// flatKind is the kind of a top-level member's value.
type flatKind uint8

const (
	flatAbsent flatKind = iota
	flatNull
	flatNumber
	flatString
	flatTrue
	flatFalse
)

// flatVal is a wanted member's value: its kind and, for numbers and
// strings, the span of its token (a string's contents, without quotes) in
// the payload.
type flatVal struct {
	kind       flatKind
	start, end uint32
	num        flatNum // for numbers
}

// flatName is what lookup compares first: a name's nameWord and length.
type flatName struct {
	word uint64
	n    uint32
}

// flatPred remembers the member name at one position of the previous
// message (names of at most eight bytes, compared by word and length) and
// its names index or -1. Unused entries have n = noPred, which no name
// length matches.
type flatPred struct {
	flatName
	idx int32
}

const noPred = math.MaxUint32

// flatTableSize is the size of the open-addressing table of wanted names;
// a plan holds at most half as many names.
const flatTableSize = 128

// flatPlan is a Decoder's compiled fast path.
type flatPlan struct {
	names     []string             // the wanted member names, unique
	meta      []flatName           // per name: its word and length
	table     [flatTableSize]uint8 // hash slot -> index in names + 1; 0 is empty
	keySlot   int                  // names index of key_path, or -1
	timeIdx   int                  // names index of the time path, or -1
	fields    []int                // names index of each field
	vals      []flatVal            // per name, for the message being scanned
	preds     [16]flatPred         // per member position (see lookup)
	holes     []hole               // scanAny's notes for learnShape
	holesOver bool                 // more members than holes holds
	tmpl      shape                // the last message's shape (scanShape)
	shapeHits uint64               // messages scanShape took (for tests)
}

// newFlatPlan returns the fast path for d, or nil when d's format or paths
// need the tree.
func newFlatPlan(d *Decoder) *flatPlan {
	if d.format != FormatJSON && d.format != FormatZigbee2MQTT || len(d.timePaths) > 1 {
		return nil
	}
	fp := &flatPlan{keySlot: -1, timeIdx: -1}
	// add returns the names index of single-name path p, adding the name,
	// or -1 when p is nested or the table is full.
	add := func(p *path) int {
		if len(p.segs) != 1 {
			return -1
		}
		name := p.segs[0].key
		for i, n := range fp.names {
			if n == name {
				return i
			}
		}
		if len(fp.names) >= flatTableSize/2 {
			return -1
		}
		fp.names = append(fp.names, name)
		fp.meta = append(fp.meta, flatName{word: nameWord(name), n: uint32(len(name))})
		h := flatHash(nameWord(name), len(name))
		for fp.table[h] != 0 {
			h = (h + 1) % flatTableSize
		}
		fp.table[h] = uint8(len(fp.names))
		return len(fp.names) - 1
	}
	if d.keyKind == keyPath {
		if fp.keySlot = add(&d.keyPath); fp.keySlot < 0 {
			return nil
		}
	}
	if len(d.timePaths) == 1 {
		if fp.timeIdx = add(&d.timePaths[0]); fp.timeIdx < 0 {
			return nil
		}
	}
	for i := range d.fields {
		k := add(&d.fields[i])
		if k < 0 {
			return nil
		}
		fp.fields = append(fp.fields, k)
	}
	fp.vals = make([]flatVal, len(fp.names))
	fp.holes = make([]hole, 0, maxShapeMembers)
	fp.tmpl = shape{
		segs: make([]shapeSeg, 0, maxShapeMembers),
		text: make([]byte, 0, maxShapeText),
		tail: make([]byte, 0, maxShapeText),
	}
	for i := range fp.preds {
		fp.preds[i].n = noPred
	}
	return fp
}

// nameWord packs the first (up to) eight bytes of a member name into a
// word, little-endian, zero above the name's length: two names of at most
// eight bytes are equal iff their lengths and words are.
func nameWord[S ~string | ~[]byte](s S) uint64 {
	var w uint64
	for i := min(len(s), 8) - 1; i >= 0; i-- {
		w = w<<8 | uint64(s[i])
	}
	return w
}

// wordAt is nameWord(p[i:i+n]) with one load when p has eight bytes from
// i on, as it does for every member name but one at the very end.
func wordAt(p []byte, i, n int) uint64 {
	if i+8 > len(p) {
		return nameWord(p[i : i+n])
	}
	w := binary.LittleEndian.Uint64(p[i:])
	if n < 8 {
		w &= 1<<(8*uint(n)) - 1
	}
	return w
}

// flatHash places a name with word w and length n in the plan's table.
func flatHash(w uint64, n int) uint32 {
	return uint32((w^uint64(n))*0x9E3779B97F4A7C15>>57) % flatTableSize
}

// lookup returns the names index of the member name of length n at p[i],
// or -1. Messages of one source list their members in the same order, so
// it first checks the name the previous message had at the same position
// (j) and only hashes when that differs.
func (fp *flatPlan) lookup(p []byte, i, n, j int) int {
	w := wordAt(p, i, n)
	if n > 8 || j >= len(fp.preds) {
		return fp.find(p, i, n, w)
	}
	pr := &fp.preds[j]
	if pr.word == w && int(pr.n) == n {
		return int(pr.idx)
	}
	k := fp.find(p, i, n, w)
	*pr = flatPred{flatName{word: w, n: uint32(n)}, int32(k)}
	return k
}

// find is lookup through the hash table; w is the name's word.
func (fp *flatPlan) find(p []byte, i, n int, w uint64) int {
	for h := flatHash(w, n); ; h = (h + 1) % flatTableSize {
		e := fp.table[h]
		if e == 0 {
			return -1
		}
		m := &fp.meta[e-1]
		if m.word == w && int(m.n) == n && (n <= 8 || fp.names[e-1] == string(p[i:i+n])) {
			return int(e - 1)
		}
	}
}

// isNumChar marks the bytes fastjson takes as part of a number token.
var isNumChar = [256]bool{
	'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true, '7': true, '8': true, '9': true,
	'.': true, '-': true, '+': true, 'e': true, 'E': true,
}

// stringEnd returns the index of the first '"' or '\\' in p at or after
// i, or len(p).
func stringEnd(p []byte, i int) int {
	for i < len(p) && p[i] != '"' && p[i] != '\\' {
		i++
	}
	return i
}

// numberEnd returns the index of the first byte at or after i that
// fastjson does not take as part of a number token, or len(p).
func numberEnd(p []byte, i int) int {
	for i < len(p) && isNumChar[p[i]] {
		i++
	}
	return i
}

// skipWS skips the whitespace fastjson skips. Compact JSON has none, so
// the first test is the one that usually ends it.
func skipWS(p []byte, i int) int {
	for i < len(p) && p[i] <= ' ' && (p[i] == ' ' || p[i] == '\n' || p[i] == '\t' || p[i] == '\r') {
		i++
	}
	return i
}

// predicted reports whether the member name starting at p[ks] is the one
// the previous message had at position j, and its length.
func (fp *flatPlan) predicted(p []byte, ks, j int) (int, bool) {
	if j >= len(fp.preds) || ks+8 >= len(p) {
		return 0, false
	}
	pr := &fp.preds[j]
	if pr.n > 8 {
		return 0, false // noPred, or a long name: looked up in full
	}
	n := int(pr.n)
	w := binary.LittleEndian.Uint64(p[ks:]) & (1<<(8*uint(n)) - 1) // all ones for n = 8
	return n, w == pr.word && p[ks+n] == '"'
}

// scan validates payload as one flat object and records the wanted
// members' values (the first occurrence of each, as fastjson's Get does).
// It reports false when the payload is anything else.
func (fp *flatPlan) scan(p []byte) bool {
	if uint64(len(p)) >= math.MaxUint32 {
		return false
	}
	if fp.tmpl.ok && fp.scanShape(p) {
		fp.shapeHits++
		return true
	}
	fp.holes, fp.holesOver = fp.holes[:0], false
	if !fp.scanAny(p) {
		return false
	}
	fp.learnShape(p)
	return true
}

// scanAny is scan for a payload of any shape. It notes each member's
// value in fp.holes for learnShape.
func (fp *flatPlan) scanAny(p []byte) bool {
	var seen uint64 // names already met: vals[k] is set iff bit k is
	i := skipWS(p, 0)
	if i >= len(p) || p[i] != '{' {
		return false
	}
	i = skipWS(p, i+1)
	if i >= len(p) || p[i] == '}' {
		return false // an empty object yields nothing: the tree path explains
	}
	for j := 0; ; j++ {
		// Key: a string without escapes.
		if p[i] != '"' {
			return false
		}
		ks := i + 1
		k := -1
		if n, ok := fp.predicted(p, ks, j); ok {
			// The name the previous message had here: it is known to hold
			// no quote or backslash, so only its closing quote is left.
			i, k = ks+n, int(fp.preds[j].idx)
		} else {
			i = stringEnd(p, ks)
			if i >= len(p) || p[i] == '\\' {
				return false
			}
			k = fp.lookup(p, ks, i-ks, j)
		}
		i = skipWS(p, i+1)
		if i >= len(p) || p[i] != ':' {
			return false
		}
		i = skipWS(p, i+1)
		if i >= len(p) {
			return false
		}
		// Value: a scalar. (Kind and span stay in registers until stored
		// field by field: see appendReading.)
		var (
			kind       flatKind
			start, end int
			num        flatNum
		)
		if p[i] == '"' {
			vs := i + 1
			i = stringEnd(p, vs)
			if i >= len(p) || p[i] == '\\' {
				return false
			}
			kind, start, end = flatString, vs, i
			i++
		} else {
			start = i
			if kind, i, num = scanScalar(p, i); kind == flatAbsent {
				return false
			}
			end = i
		}
		first := k >= 0 && seen&(1<<uint(k)) == 0
		if first {
			seen |= 1 << uint(k)
			fp.set(k, kind, start, end, num)
		}
		fp.noteHole(kind, start, end, k, first)
		i = skipWS(p, i)
		if i >= len(p) {
			return false
		}
		if p[i] == '}' {
			break
		}
		if p[i] != ',' {
			return false
		}
		i = skipWS(p, i+1)
		if i >= len(p) {
			return false
		}
	}
	if skipWS(p, i+1) != len(p) {
		return false
	}
	fp.markAbsent(^seen & (1<<uint(len(fp.vals)) - 1))
	return true
}

// scanScalar reads the number, true, false or null token at p[i] (not a
// string), returning its kind and end and, for a number, what scanNumber
// learned of it; kind flatAbsent when the token is none of those as the
// flat scan takes them (the tree path decides).
func scanScalar(p []byte, i int) (flatKind, int, flatNum) {
	var num flatNum
	switch c := p[i]; c {
	case 't':
		if len(p)-i >= 4 && string(p[i:i+4]) == "true" {
			return flatTrue, i + 4, num
		}
	case 'f':
		if len(p)-i >= 5 && string(p[i:i+5]) == "false" {
			return flatFalse, i + 5, num
		}
	case 'n':
		if len(p)-i >= 4 && string(p[i:i+4]) == "null" {
			return flatNull, i + 4, num
		} // "nan" included: left to the tree path
	default:
		e, mant, sh := scanNumber(p, i)
		// fastjson refuses a lone sign before a non-number byte, and
		// reads "inf"/"nan" tokens this scan leaves to it.
		if n := e - i; n == 0 || n == 1 && (c == '-' || c == '+') {
			break
		}
		num.mant, num.shape = mant, sh
		return flatNumber, e, num
	}
	return flatAbsent, i, num
}

// set records the value of wanted name k, field by field (a flatVal built
// whole and copied would stall on store forwarding; see appendReading).
func (fp *flatPlan) set(k int, kind flatKind, start, end int, num flatNum) {
	v := &fp.vals[k]
	v.kind, v.start, v.end = kind, uint32(start), uint32(end)
	v.num.mant, v.num.shape = num.mant, num.shape
}

// markAbsent marks the names in mask as absent from the message: their
// vals still hold an earlier message's.
func (fp *flatPlan) markAbsent(mask uint64) {
	for ; mask != 0; mask &= mask - 1 {
		fp.vals[bits.TrailingZeros64(mask)].kind = flatAbsent
	}
}

// decodeFlat is the fast path of Decode for one message: it appends the
// message's readings to b and reports true, or reports false with b and
// d.stats untouched when the message must take the tree path (see above).
func (d *Decoder) decodeFlat(topic string, p []byte, arrivalMs int64, b *Batch) bool {
	fp := d.flat
	if !fp.scan(p) {
		return false
	}
	nr, nk := len(b.Readings), len(b.keys)
	fail := func() bool {
		b.Readings = b.Readings[:nr]
		b.keys = b.keys[:nk]
		return false
	}
	keyOff := len(b.keys)
	if fp.keySlot >= 0 {
		kv := &fp.vals[fp.keySlot]
		if kv.kind != flatString && kv.kind != flatNumber {
			return false
		}
		b.keys = append(b.keys, p[kv.start:kv.end]...)
		if r, _ := checkKey(b, keyOff); r != ReasonNone {
			return fail()
		}
	} else if r, _ := d.appendTopicKey(topic, b); r != ReasonNone {
		return fail()
	}
	keyLen := uint32(len(b.keys) - keyOff)

	ts, flags := arrivalMs, uint8(record.FlagArrivalTime)
	if fp.timeIdx >= 0 {
		tv := &fp.vals[fp.timeIdx]
		switch tv.kind {
		case flatNumber, flatString:
			if sh := tv.num.shape; tv.kind == flatNumber && sh&(numSimple|numNeg|numLead0) == numSimple && sh.frac() == 0 {
				if ms, ok := intTimeMs(int64(tv.num.mant), sh.digits(), d.timeUnit); ok {
					ts, flags = ms, 0
					break
				}
			}
			ms, r, _ := d.timeOf(p[tv.start:tv.end], tv.kind == flatString)
			if r != ReasonNone {
				return fail()
			}
			ts, flags = ms, 0
		default:
			return fail() // absent or null where time_path is required, or not a time
		}
	}
	if d.checkTime(ts, arrivalMs) != ReasonNone {
		return fail()
	}

	missing := 0
	rs := b.Readings
	for i, k := range fp.fields {
		fv := &fp.vals[k]
		var x float64
		switch fv.kind {
		case flatAbsent, flatNull:
			missing++
			continue
		case flatNumber:
			if fv.num.shape.simple() {
				x = fv.num.float()
				break
			}
			tok := p[fv.start:fv.end]
			f, err := fastfloat.Parse(unsafe.String(&tok[0], len(tok)))
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return fail()
			}
			x = f
		case flatString:
			f, ok := d.stringNumber(p[fv.start:fv.end])
			if !ok {
				return fail()
			}
			x = f
		case flatTrue:
			x = 1
		case flatFalse:
			x = 0
		}
		// Field by field (see appendReading).
		rs = appendReading(rs)
		r := &rs[len(rs)-1]
		r.Field, r.Flags, r.Time, r.Value = uint16(i), flags, ts, x
		r.keyOff, r.keyLen = uint32(keyOff), keyLen
	}
	if missing == len(fp.fields) {
		return fail()
	}
	b.Readings = rs
	d.stats.MissingFields += uint64(missing)
	return true
}

// appendReading extends rs by one zero Reading for the caller to fill in
// place. Appending a composite literal instead builds it in a temporary
// and copies it with wide loads that stall on the literal's narrow stores,
// which costs more than the rest of a reading's decoding.
func appendReading(rs []Reading) []Reading {
	if len(rs) < cap(rs) {
		rs = rs[:len(rs)+1]
		rs[len(rs)-1] = Reading{}
		return rs
	}
	return append(rs, Reading{})
}
