package config

import (
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// TestTextIndex checks text against a walk of the bytes, on text with
// multi-byte runes, invalid bytes and long lines.
func TestTextIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "é", "€", "𝄞", "\n", "\xff", "\xe2\x82", " ", "\r\n"}
	for n := 0; n < 200; n++ {
		var b []byte
		for k := r.IntN(400); k > 0; k-- {
			b = append(b, pieces[r.IntN(len(pieces))]...)
		}
		tx := newText(b)
		line, col := 1, 1
		for off := 0; off <= len(b); {
			if l, c := tx.lineCol(off); l != line || c != col {
				t.Fatalf("%q: lineCol(%d) = %d:%d, want %d:%d", b, off, l, c, line, col)
			}
			if got := tx.offset(line, col); got != off {
				t.Fatalf("%q: offset(%d:%d) = %d, want %d", b, line, col, got, off)
			}
			if off == len(b) {
				break
			}
			_, size := utf8.DecodeRune(b[off:])
			if b[off] == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
			off += size
		}
		if got := tx.offset(line, col+5); got != len(b) {
			t.Fatalf("%q: offset past the end = %d", b, got)
		}
	}
	if tx := newText([]byte("ab\ncd\n")); tx.offset(1, 9) != 2 || tx.offset(0, 1) != 0 || tx.offset(9, 1) != 6 {
		t.Fatal("offset does not clamp to its line")
	}
}
