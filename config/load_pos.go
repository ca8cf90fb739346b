package config

import (
	"sort"
	"unicode/utf8"
)

// text indexes bytes by line and column as the YAML parser counts them
// (from 1; columns in runes, an invalid byte one rune), in time
// independent of a line's length: a file may be one long line.
type text struct {
	b         []byte
	lines     []int // byte offset where each line starts
	lineRunes []int // rune index where each line starts
	marks     []int // byte offset of every 64th rune
	runes     int
}

const markEvery = 64

func newText(b []byte) *text {
	t := &text{b: b, lines: []int{0}, lineRunes: []int{0}}
	for i := 0; i < len(b); {
		if t.runes%markEvery == 0 {
			t.marks = append(t.marks, i)
		}
		c, size := b[i], 1
		if c >= utf8.RuneSelf {
			_, size = utf8.DecodeRune(b[i:])
		}
		i += size
		t.runes++
		if c == '\n' {
			t.lines = append(t.lines, i)
			t.lineRunes = append(t.lineRunes, t.runes)
		}
	}
	return t
}

// offset returns the byte offset of line:col, clamped to the line (its
// newline) and to the text.
func (t *text) offset(line, col int) int {
	if line < 1 {
		return 0
	}
	if line > len(t.lines) {
		return len(t.b)
	}
	end := t.runes
	if line < len(t.lines) {
		end = t.lineRunes[line] - 1 // its newline
	}
	return t.byteAt(min(t.lineRunes[line-1]+max(col, 1)-1, end))
}

// byteAt returns the byte offset of rune r.
func (t *text) byteAt(r int) int {
	if r >= t.runes {
		return len(t.b)
	}
	i := t.marks[r/markEvery]
	for n := r % markEvery; n > 0; n-- {
		_, size := utf8.DecodeRune(t.b[i:])
		i += size
	}
	return i
}

// lineCol returns the line and column of byte offset off.
func (t *text) lineCol(off int) (int, int) {
	off = min(max(off, 0), len(t.b))
	line := sort.Search(len(t.lines), func(i int) bool { return t.lines[i] > off }) // the line after
	return line, t.runeAt(off) - t.lineRunes[line-1] + 1
}

// runeAt returns the index of the rune at byte offset off.
func (t *text) runeAt(off int) int {
	if len(t.marks) == 0 {
		return 0
	}
	k := sort.Search(len(t.marks), func(i int) bool { return t.marks[i] > off }) - 1
	r, i := k*markEvery, t.marks[k]
	for i < off {
		_, size := utf8.DecodeRune(t.b[i:])
		i += size
		r++
	}
	return r
}
