package decode

import (
	"errors"
	"fmt"
	"strings"
)

// TopicPattern is a compiled topic pattern such as
// "city/{district}/{type}/{id}". Levels are separated by '/'; a level is
//
//   - a literal, matched exactly;
//   - "+", any one level, not captured;
//   - "#", only as the last level: any remainder, including none (as in an
//     MQTT filter, "a/#" matches "a" and "a/b/c");
//   - a mix of literals and named variables within one level, such as
//     "{id}" or "{app}@{tenant}". A variable captures a non-empty part of
//     one level; when a literal follows it, the variable ends at the first
//     occurrence of that literal. Two variables may not be adjacent.
//
// Variable names are ASCII letters, digits and '_', each used once. There is
// no escape for '{' and '}'.
//
// A TopicPattern is immutable and safe for concurrent use.
type TopicPattern struct {
	src   string
	segs  []patSeg
	vars  []string
	multi bool // ends with "#"
}

// patSeg is one level of a pattern: "+" (any), or a sequence of parts.
type patSeg struct {
	any   bool
	parts []patPart
}

// patPart is a literal (v < 0) or the variable with index v.
type patPart struct {
	lit string
	v   int
}

// ParseTopicPattern compiles pattern. The empty pattern is invalid; callers
// that accept any topic keep a nil *TopicPattern.
func ParseTopicPattern(pattern string) (*TopicPattern, error) {
	if pattern == "" {
		return nil, errors.New("empty topic pattern")
	}
	p := &TopicPattern{src: pattern}
	levels := strings.Split(pattern, "/")
	for i, lv := range levels {
		switch {
		case lv == "#":
			if i != len(levels)-1 {
				return nil, fmt.Errorf("topic pattern %q: '#' must be the last level", pattern)
			}
			p.multi = true
			continue
		case lv == "+":
			p.segs = append(p.segs, patSeg{any: true})
			continue
		case strings.ContainsAny(lv, "+#"):
			return nil, fmt.Errorf("topic pattern %q: level %q: '+' and '#' must fill a whole level", pattern, lv)
		}
		parts, err := parseParts(lv, false, func(name string) (int, error) {
			for _, v := range p.vars {
				if v == name {
					return 0, fmt.Errorf("variable {%s} used twice", name)
				}
			}
			p.vars = append(p.vars, name)
			return len(p.vars) - 1, nil
		})
		if err != nil {
			return nil, fmt.Errorf("topic pattern %q: level %q: %w", pattern, lv, err)
		}
		p.segs = append(p.segs, patSeg{parts: parts})
	}
	return p, nil
}

// parseParts splits s into literals and {variables}, resolving each variable
// name to an index with v.
func parseParts(s string, allowAdjacent bool, v func(name string) (int, error)) ([]patPart, error) {
	var parts []patPart
	for len(s) > 0 {
		open := strings.IndexByte(s, '{')
		if cl := strings.IndexByte(s, '}'); cl >= 0 && (open < 0 || cl < open) {
			return nil, errors.New("'}' without '{'")
		}
		if open < 0 {
			parts = append(parts, patPart{lit: s, v: -1})
			break
		}
		if open > 0 {
			parts = append(parts, patPart{lit: s[:open], v: -1})
		}
		s = s[open+1:]
		cl := strings.IndexByte(s, '}')
		if cl < 0 {
			return nil, errors.New("'{' without '}'")
		}
		name := s[:cl]
		s = s[cl+1:]
		if !validVarName(name) {
			return nil, fmt.Errorf("invalid variable name %q (want letters, digits, '_')", name)
		}
		if n := len(parts); !allowAdjacent && n > 0 && parts[n-1].v >= 0 {
			return nil, fmt.Errorf("variables {%s} and the one before it are adjacent", name)
		}
		idx, err := v(name)
		if err != nil {
			return nil, err
		}
		parts = append(parts, patPart{v: idx})
	}
	return parts, nil
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// String returns the pattern as written.
func (p *TopicPattern) String() string { return p.src }

// Vars returns the variable names in order of appearance. The caller must
// not modify the returned slice.
func (p *TopicPattern) Vars() []string { return p.vars }

// VarIndex returns the index of the variable name in Vars, or -1.
func (p *TopicPattern) VarIndex(name string) int {
	for i, v := range p.vars {
		if v == name {
			return i
		}
	}
	return -1
}

// Match matches topic against p. On success it returns dst resized to
// hold the value of each variable in the order of Vars; the values are
// substrings of topic, so Match does not allocate when dst has room. On
// failure dst's contents are unspecified.
func (p *TopicPattern) Match(topic string, dst []string) ([]string, bool) {
	// Every variable is set on success; on failure the caller discards
	// dst, so it needs no clearing here.
	if n := len(p.vars); cap(dst) >= n {
		dst = dst[:n]
	} else {
		dst = make([]string, n)
	}
	rest := topic
	done := false // all levels of topic consumed
	for _, sg := range p.segs {
		if done {
			return dst, false
		}
		// Levels are short: a plain loop beats IndexByte's call.
		i := 0
		for i < len(rest) && rest[i] != '/' {
			i++
		}
		var lv string
		if i < len(rest) {
			lv, rest = rest[:i], rest[i+1:]
		} else {
			lv, rest, done = rest, "", true
		}
		switch {
		case sg.any:
		case len(sg.parts) == 1 && sg.parts[0].v >= 0: // a whole-level variable
			if lv == "" {
				return dst, false
			}
			dst[sg.parts[0].v] = lv
		case len(sg.parts) == 1: // a literal level
			if lv != sg.parts[0].lit {
				return dst, false
			}
		default:
			if !matchLevel(sg.parts, lv, dst) {
				return dst, false
			}
		}
	}
	if p.multi || done {
		return dst, true
	}
	return dst, false
}

// matchLevel matches one level against parts, storing variables in vals.
func matchLevel(parts []patPart, lv string, vals []string) bool {
	pos := 0
	for i, pt := range parts {
		if pt.v < 0 {
			if !strings.HasPrefix(lv[pos:], pt.lit) {
				return false
			}
			pos += len(pt.lit)
			continue
		}
		end := len(lv)
		if i+1 < len(parts) {
			j := strings.Index(lv[pos:], parts[i+1].lit)
			if j < 0 {
				return false
			}
			end = pos + j
		}
		if end == pos {
			return false
		}
		vals[pt.v] = lv[pos:end]
		pos = end
	}
	return pos == len(lv)
}

// KeyTemplate builds a series key from topic variables, such as
// "{district}/{type}/{id}". Text outside braces is copied as is.
//
// A KeyTemplate is immutable and safe for concurrent use.
type KeyTemplate struct {
	parts []patPart
}

// ParseKeyTemplate compiles tmpl against the variables of p.
func ParseKeyTemplate(tmpl string, p *TopicPattern) (*KeyTemplate, error) {
	if tmpl == "" {
		return nil, errors.New("empty key template")
	}
	parts, err := parseKeyParts(tmpl, p)
	if err != nil {
		return nil, fmt.Errorf("key template %q: %w", tmpl, err)
	}
	return &KeyTemplate{parts: parts}, nil
}

func parseKeyParts(tmpl string, p *TopicPattern) ([]patPart, error) {
	// A key is only built, never matched, so variables may be adjacent.
	return parseParts(tmpl, true, func(name string) (int, error) {
		idx := -1
		if p != nil {
			idx = p.VarIndex(name)
		}
		if idx < 0 {
			return 0, fmt.Errorf("variable {%s} is not in topic_pattern", name)
		}
		return idx, nil
	})
}

// Append appends the key built from vals (as returned by Match) to dst.
func (t *KeyTemplate) Append(dst []byte, vals []string) []byte {
	for _, pt := range t.parts {
		if pt.v < 0 {
			dst = appendShort(dst, pt.lit)
		} else if pt.v < len(vals) {
			dst = appendShort(dst, vals[pt.v])
		}
	}
	return dst
}

// appendShort is append(dst, s...) with the few bytes of a key part
// copied in a loop rather than through a call to memmove.
func appendShort(dst []byte, s string) []byte {
	if len(s) > 16 || cap(dst)-len(dst) < len(s) {
		return append(dst, s...)
	}
	n := len(dst)
	dst = dst[:n+len(s)]
	for i := 0; i < len(s); i++ {
		dst[n+i] = s[i]
	}
	return dst
}

// MatchFilter reports whether topic matches the MQTT topic filter, with
// the MQTT 3.1.1/5 rules: '+' matches one level, a final '#' matches the
// parent level and any number of levels below it, and a wildcard in the
// first level of the filter does not match a topic starting with '$'.
// A malformed filter ('#' not last, a wildcard sharing a level) matches
// nothing.
func MatchFilter(filter, topic string) bool {
	if filter == "" || topic == "" {
		return false
	}
	if topic[0] == '$' && (filter[0] == '+' || filter[0] == '#') {
		return false
	}
	for {
		var fl string
		fi := strings.IndexByte(filter, '/')
		if fi >= 0 {
			fl, filter = filter[:fi], filter[fi+1:]
		} else {
			fl = filter
		}
		if fl == "#" {
			return fi < 0
		}
		if fl != "+" && strings.ContainsAny(fl, "+#") {
			return false
		}
		var tl string
		ti := strings.IndexByte(topic, '/')
		if ti >= 0 {
			tl, topic = topic[:ti], topic[ti+1:]
		} else {
			tl = topic
		}
		if fl != "+" && fl != tl {
			return false
		}
		switch {
		case fi < 0 && ti < 0:
			return true
		case fi < 0:
			return false
		case ti < 0:
			// The topic ended; only "#" (parent match) may remain.
			return filter == "#"
		}
	}
}

// CheckFilter checks an MQTT topic filter, including a shared
// subscription $share/group/filter: '+' and '#' must fill a level, '#'
// only the last one.
func CheckFilter(f string) error {
	if f == "" {
		return errors.New("empty topic filter")
	}
	if strings.HasPrefix(f, "$share/") {
		parts := strings.SplitN(f, "/", 3)
		if len(parts) < 3 || parts[1] == "" || parts[2] == "" {
			return fmt.Errorf("shared subscription %q must be $share/group/filter", f)
		}
		f = parts[2]
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return fmt.Errorf("filter %q: # must be a whole last level", f)
		}
		if strings.Contains(l, "+") && l != "+" {
			return fmt.Errorf("filter %q: + must be a whole level", f)
		}
	}
	return nil
}
