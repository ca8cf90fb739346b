package config

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml/token"
)

// expansion is a file's text after ${VAR} substitution, the text the YAML
// parser sees, with the way back: positions in it map to the file's own,
// and every substituted value is known so that no problem message prints
// it.
type expansion struct {
	orig, out         []byte
	subs              []subst
	origText, outText *text // only when there are subs
	// tokens are the parsed values holding a secret, with their text in
	// the file: see secretTokens.
	tokens []tokenText
}

type tokenText struct {
	value, text string
	line, col   int
}

// subst is one replacement of orig[inStart:inEnd] by out[outStart:outEnd].
type subst struct {
	inStart, inEnd   int
	outStart, outEnd int
	line             int    // line of inStart in orig
	ref              string // the text replaced, "${VAR}"
	value            string // what replaced it
	secret           bool   // value came from the environment: never printed
}

// redactMinLen is the length from which a substituted value is hidden in
// every message; a shorter one ("1", "info") only near where it stands,
// so that unrelated words stay.
const redactMinLen = 8

// redactNear is how many values holding a secret, at and after a
// problem's position, the problem's message is cleaned of (see redact).
const redactNear = 16

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
			s.value, s.secret = v, ok
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

// secretTokens notes every token whose text holds a substituted ${VAR}
// value: the parser unquotes, unescapes and folds it, so a message may
// print the value in a form none of the variable's; it then prints the
// token's text in the file instead.
func (e *expansion) secretTokens(toks token.Tokens) {
	secret := false
	for _, s := range e.subs {
		secret = secret || s.secret && s.value != ""
	}
	if !secret {
		return
	}
	for i, tk := range toks {
		if tk.Position == nil || tk.Value == "" {
			continue
		}
		start, end := e.outText.offset(tk.Position.Line, tk.Position.Column), len(e.out)
		if i+1 < len(toks) && toks[i+1].Position != nil {
			end = max(start, e.outText.offset(toks[i+1].Position.Line, toks[i+1].Position.Column))
		}
		hit := false
		for j := sort.Search(len(e.subs), func(j int) bool { return e.subs[j].outEnd > start }); j < len(e.subs) && e.subs[j].outStart < end; j++ {
			hit = hit || e.subs[j].secret && e.subs[j].value != ""
		}
		if !hit {
			continue
		}
		in0, in1 := e.toIn(start), e.toIn(end)
		if j := sort.Search(len(e.subs), func(j int) bool { return e.subs[j].inStart >= in0 }); in1 <= in0 && j < len(e.subs) {
			in1 = e.subs[j].inEnd // the token lies in one value: its ${VAR}
		}
		text := strings.TrimSpace(string(e.orig[in0:in1]))
		if n := len(text); n >= 2 && (text[0] == '"' || text[0] == '\'') && text[n-1] == text[0] {
			text = text[1 : n-1]
		}
		line, col := e.origText.lineCol(in0)
		e.tokens = append(e.tokens, tokenText{value: tk.Value, text: text, line: line, col: col})
	}
}

// redactor replaces values from the environment in problems by their
// ${VAR} references.
type redactor struct {
	global []pair                 // long values, from every file
	tokens map[string][]tokenText // values holding a secret, by file
}

type pair struct{ value, ref string }

func (l *loader) redactor() *redactor {
	r := &redactor{tokens: map[string][]tokenText{}}
	seen := map[string]bool{}
	for _, d := range l.docs {
		if d.exp == nil {
			continue
		}
		r.tokens[d.name] = d.exp.tokens
		for _, s := range d.exp.subs {
			if s.secret && len(s.value) >= redactMinLen {
				r.global = addForms(r.global, seen, s.value, s.ref)
			}
		}
	}
	return r
}

// redact replaces in p's message and path every value from the
// environment that is long enough to be a secret rather than a common
// word; and every parsed value holding one, at most redactNear of them
// from p's position on (where the values a message prints stand), by
// its text in the file, as parsing may have changed the secret's form.
func (r *redactor) redact(p *Problem) {
	var pairs []pair
	if toks := r.tokens[p.File]; len(toks) > 0 && p.Line > 0 {
		seen := map[string]bool{}
		i := sort.Search(len(toks), func(i int) bool {
			return toks[i].line > p.Line || toks[i].line == p.Line && toks[i].col >= p.Col
		})
		for _, t := range toks[i:min(i+redactNear, len(toks))] {
			if len(t.value) >= redactMinLen || t.line == p.Line {
				pairs = addForms(pairs, seen, t.value, t.text)
			}
		}
	}
	pairs = append(pairs, r.global...)
	if len(pairs) == 0 {
		return
	}
	sort.SliceStable(pairs, func(i, j int) bool { return len(pairs[i].value) > len(pairs[j].value) })
	for _, pr := range pairs {
		p.Msg = strings.ReplaceAll(p.Msg, pr.value, pr.ref)
		p.Path = strings.ReplaceAll(p.Path, pr.value, pr.ref)
	}
}

func addForms(pairs []pair, seen map[string]bool, value, ref string) []pair {
	for _, v := range valueForms(value) {
		if !seen[v] {
			seen[v] = true
			pairs = append(pairs, pair{v, ref})
		}
	}
	return pairs
}

// valueForms are the ways a message may print value: as is, trimmed as a
// plain scalar is, folded onto one line, escaped as %q does, and clipped
// as a long name in a message is.
func valueForms(v string) []string {
	forms := []string{v}
	add := func(f string) {
		if f != "" && f != v {
			forms = append(forms, f)
		}
	}
	quoted := func(v string) string { q := strconv.Quote(v); return q[1 : len(q)-1] }
	add(strings.TrimSpace(v))
	add(strings.Join(strings.Fields(v), " "))
	add(quoted(v))
	add(clip(v))
	add(quoted(clip(v)))
	return forms
}
