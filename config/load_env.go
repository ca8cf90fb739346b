package config

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// expansion is a file's text after ${VAR} substitution, the text the YAML
// parser sees, with the way back: positions in it map to the file's own.
type expansion struct {
	orig, out         []byte
	subs              []subst
	origText, outText *text // only when there are subs
}

// subst is one replacement of orig[inStart:inEnd] by out[outStart:outEnd].
type subst struct {
	inStart, inEnd   int
	outStart, outEnd int
	line             int    // line of inStart in orig
	ref              string // the text replaced, "${VAR}"
	value            string // what replaced it
}

// expand replaces ${VAR} with the variable's value, ${VAR:-default} with
// the default when VAR is unset; $$ is a literal $, and so is a $ not
// followed by $ or by {…} on the same line. Unset variables without a
// default are problems at their ${. Comments are skipped. The result may
// grow to budget bytes; beyond it expand stops with a problem.
func (l *loader) expand(d *document, lookup func(string) (string, bool), budget int) *expansion {
	data := d.data
	e := &expansion{orig: data, out: data}
	if bytes.IndexByte(data, '$') < 0 {
		return e
	}
	var out bytes.Buffer
	line, col := 1, 1 // of data[i]
	inComment := false
	var quote byte
	closing, newline := -1, -1 // the next '}' and '\n' from i, found lazily
	next := func(from int, c byte, at *int) int {
		if *at < from {
			*at = len(data)
			if j := bytes.IndexByte(data[from:], c); j >= 0 {
				*at = from + j
			}
		}
		return *at
	}
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case c == '\n':
			inComment, quote = false, 0
		case inComment:
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case (c == '"' || c == '\'') && (i == 0 || bytes.IndexByte([]byte(" \t\n[{,:"), data[i-1]) >= 0):
			quote = c
		case c == '#' && (i == 0 || data[i-1] == ' ' || data[i-1] == '\t' || data[i-1] == '\n'):
			inComment = true
		}
		s := subst{inStart: i, outStart: out.Len(), line: line}
		switch {
		case c != '$' || i+1 >= len(data) || inComment:
		case data[i+1] == '$':
			s.value = "$"
		case data[i+1] == '{':
			end := next(i+2, '}', &closing)
			if end == len(data) || end > next(i+2, '\n', &newline) {
				break
			}
			name := string(data[i+2 : end])
			def, hasDef := "", false
			if k := strings.Index(name, ":-"); k >= 0 {
				name, def, hasDef = name[:k], name[k+2:], true
			}
			v, ok := lookup(name)
			switch {
			case !validEnvName(name):
				l.addAt(d, line, col, "", fmt.Sprintf("%q is not an environment variable name", clip(name)))
			case !ok && hasDef:
				v = def
			case !ok:
				l.addAt(d, line, col, "", fmt.Sprintf("environment variable %q is not set (use ${%s:-default} for a default)", clip(name), clip(name)))
			}
			s.value = v
			s.inEnd = end + 1
		}
		if s.inEnd == 0 && s.value == "" {
			out.WriteByte(c)
			if c == '\n' {
				line, col = line+1, 1
			} else if utf8.RuneStart(c) {
				col++
			}
			continue
		}
		if s.inEnd == 0 {
			s.inEnd = i + 2 // $$
		}
		s.ref = string(data[s.inStart:s.inEnd])
		out.WriteString(s.value)
		s.outEnd = out.Len()
		e.subs = append(e.subs, s)
		if out.Len() > budget {
			l.addAt(d, line, col, "", fmt.Sprintf("with %s substituted the config exceeds %s, the limit", clip(s.ref), sizeName(MaxFileBytes)))
			return nil
		}
		col += utf8.RuneCount(data[s.inStart:s.inEnd])
		i = s.inEnd - 1
	}
	e.out = out.Bytes()
	if len(e.subs) > 0 {
		e.origText, e.outText = newText(e.orig), newText(e.out)
	}
	return e
}

// mapPos turns a position in the substituted text into one in the file; a
// position inside a substituted value maps to its ${.
func (e *expansion) mapPos(line, col int) (int, int) {
	if e == nil || len(e.subs) == 0 || line <= 0 {
		return line, col
	}
	l, c := e.origText.lineCol(e.toIn(e.outText.offset(line, max(col, 1))))
	if col <= 0 {
		c = 0
	}
	return l, c
}

// toIn maps an offset in the substituted text to one in the file.
func (e *expansion) toIn(off int) int {
	i := sort.Search(len(e.subs), func(i int) bool { return e.subs[i].outEnd > off }) // first sub not before off
	switch {
	case i < len(e.subs) && e.subs[i].outStart <= off:
		return e.subs[i].inStart
	case i > 0:
		s := e.subs[i-1]
		return off - s.outEnd + s.inEnd
	}
	return off
}
