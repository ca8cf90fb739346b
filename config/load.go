package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Problem is one thing wrong with a configuration file.
type Problem struct {
	File string
	Line int // 0 when unknown
	Col  int
	// Path is the option, as a YAML path such as pipelines[0].window.size.
	Path string
	Msg  string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		b.WriteByte(':')
	}
	if p.Line > 0 {
		b.WriteString(strconv.Itoa(p.Line))
		b.WriteByte(':')
		if p.Col > 0 {
			b.WriteString(strconv.Itoa(p.Col))
			b.WriteByte(':')
		}
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error holds every problem found in a file, in file order.
type Error struct{ Problems []Problem }

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Load reads, parses, defaults and validates the file at path. On any
// problem it returns an *Error listing all of them.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read config: %w", err)
	}
	return LoadBytes(path, data, os.LookupEnv)
}

// LoadBytes is Load for a file's contents; lookup resolves ${VAR}.
func LoadBytes(name string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	l := loader{file: name, pos: map[string]Pos{}}
	expanded := l.expand(data, lookup)
	f, err := parser.ParseBytes(expanded, 0)
	if err != nil {
		l.addYAMLError(err)
		return nil, l.err()
	}
	var root ast.Node
	if len(f.Docs) > 0 {
		root = f.Docs[0].Body
	}
	if root == nil {
		l.add("", "the file is empty")
		return nil, l.err()
	}
	l.walk(root, "", reflect.TypeOf(Config{}))
	var c Config
	if len(l.problems) == 0 {
		if err := yaml.NodeToValue(root, &c); err != nil {
			l.addYAMLError(err)
		}
	}
	if len(l.problems) > 0 {
		return nil, l.err()
	}
	c.File = name
	c.pos = l.pos
	host, _ := os.Hostname()
	if host == "" {
		host = "gateway"
	}
	c.ApplyDefaults(host)
	for _, p := range c.validate() {
		l.add(p.Path, p.Msg)
	}
	if len(l.problems) > 0 {
		return nil, l.err()
	}
	return &c, nil
}

type loader struct {
	file     string
	pos      map[string]Pos
	problems []Problem
}

func (l *loader) err() error {
	sort.SliceStable(l.problems, func(i, j int) bool { return l.problems[i].Line < l.problems[j].Line })
	return &Error{Problems: l.problems}
}

// add records a problem at path, locating it at the path's node or, when
// the option is absent, at its nearest present parent.
func (l *loader) add(path, msg string) {
	p := Problem{File: l.file, Path: path, Msg: msg}
	for q := path; ; {
		if pos, ok := l.pos[q]; ok {
			p.File, p.Line, p.Col = pos.File, pos.Line, pos.Col
			break
		}
		i := strings.LastIndexAny(q, ".[")
		if i < 0 {
			break
		}
		q = q[:i]
	}
	l.problems = append(l.problems, p)
}

func (l *loader) addAt(line, col int, path, msg string) {
	l.problems = append(l.problems, Problem{File: l.file, Line: line, Col: col, Path: path, Msg: msg})
}

// addYAMLError turns a go-yaml error into a problem with its position.
func (l *loader) addYAMLError(err error) {
	var ye yaml.Error
	if errors.As(err, &ye) {
		tok := ye.GetToken()
		msg := ye.GetMessage()
		var te *yaml.TypeError
		if errors.As(err, &te) {
			msg = typeMsg(te)
		}
		if tok != nil {
			l.addAt(tok.Position.Line, tok.Position.Column, "", msg)
			return
		}
		l.add("", msg)
		return
	}
	msg := err.Error()
	if line, col, rest, ok := parseLeadingPos(msg); ok {
		l.addAt(line, col, "", rest)
		return
	}
	l.add("", msg)
}

func typeMsg(te *yaml.TypeError) string {
	if te.StructFieldName != nil {
		return fmt.Sprintf("cannot use %q as %s (option %s)", te.Token.Value, te.DstType, *te.StructFieldName)
	}
	return fmt.Sprintf("cannot use %q as %s", te.Token.Value, te.DstType)
}

// parseLeadingPos reads "[line:col] msg" as go-yaml prints errors.
func parseLeadingPos(s string) (int, int, string, bool) {
	if !strings.HasPrefix(s, "[") {
		return 0, 0, "", false
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return 0, 0, "", false
	}
	lc := strings.SplitN(s[1:end], ":", 2)
	if len(lc) != 2 {
		return 0, 0, "", false
	}
	line, err1 := strconv.Atoi(lc[0])
	col, err2 := strconv.Atoi(lc[1])
	if err1 != nil || err2 != nil {
		return 0, 0, "", false
	}
	rest := strings.TrimSpace(s[end+1:])
	if i := strings.IndexByte(rest, '\n'); i >= 0 {
		rest = rest[:i]
	}
	return line, col, rest, true
}

// expand replaces ${VAR} with the variable's value, ${VAR:-default} with
// the default when VAR is unset; $$ is a literal $. Unset variables
// without a default are problems at their line. Comments are skipped.
func (l *loader) expand(data []byte, lookup func(string) (string, bool)) []byte {
	if !bytes.Contains(data, []byte("$")) {
		return data
	}
	var out bytes.Buffer
	line := 1
	inComment := false
	var quote byte
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case c == '\n':
			line++
			inComment, quote = false, 0
		case inComment:
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || data[i-1] == ' ' || data[i-1] == '\t' || data[i-1] == '\n'):
			inComment = true
		}
		if c != '$' || i+1 >= len(data) || inComment {
			out.WriteByte(c)
			continue
		}
		switch data[i+1] {
		case '$':
			out.WriteByte('$')
			i++
		case '{':
			end := bytes.IndexByte(data[i+2:], '}')
			if end < 0 {
				out.WriteByte(c)
				continue
			}
			name := string(data[i+2 : i+2+end])
			def, hasDef := "", false
			if k := strings.Index(name, ":-"); k >= 0 {
				name, def, hasDef = name[:k], name[k+2:], true
			}
			v, ok := lookup(name)
			switch {
			case !validEnvName(name):
				l.addAt(line, 0, "", fmt.Sprintf("%q is not an environment variable name", name))
			case !ok && hasDef:
				v = def
			case !ok:
				l.addAt(line, 0, "", fmt.Sprintf("environment variable %q is not set (use ${%s:-default} for a default)", name, name))
			}
			out.WriteString(v)
			i += 2 + end
		default:
			out.WriteByte(c)
		}
	}
	return out.Bytes()
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9' {
			continue
		}
		return false
	}
	return true
}

var textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()

// walk records the position of every key and item under node and reports
// keys that t, a struct type, does not have.
func (l *loader) walk(node ast.Node, path string, t reflect.Type) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n := node.(type) {
	case *ast.AnchorNode:
		l.walk(n.Value, path, t)
	case *ast.TagNode:
		l.walk(n.Value, path, t)
	case *ast.MappingNode:
		for _, mv := range n.Values {
			l.walkPair(mv, path, t)
		}
	case *ast.MappingValueNode:
		l.walkPair(n, path, t)
	case *ast.SequenceNode:
		var et reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			et = t.Elem()
		}
		for i, v := range n.Values {
			p := path + "[" + strconv.Itoa(i) + "]"
			if tok := v.GetToken(); tok != nil {
				l.pos[p] = Pos{l.file, tok.Position.Line, tok.Position.Column}
			}
			l.walk(v, p, et)
		}
	}
}

func (l *loader) walkPair(mv *ast.MappingValueNode, path string, t reflect.Type) {
	key := mapKey(mv.Key)
	p := key
	if path != "" {
		p = path + "." + key
	}
	tok := mv.Key.GetToken()
	if tok != nil {
		l.pos[p] = Pos{l.file, tok.Position.Line, tok.Position.Column}
	}
	if t == nil || t.Kind() != reflect.Struct {
		l.walk(mv.Value, p, nil)
		return
	}
	f, ok := fieldByTag(t, key)
	if !ok {
		msg := fmt.Sprintf("unknown option %q", clip(key))
		known := knownKeys(t)
		if s := suggest(key, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		} else if len(known) > 0 {
			msg += " (known: " + strings.Join(known, ", ") + ")"
		}
		if tok != nil {
			l.addAt(tok.Position.Line, tok.Position.Column, p, msg)
		} else {
			l.add(p, msg)
		}
		return
	}
	if reflect.PointerTo(f.Type).Implements(textUnmarshaler) {
		l.checkText(mv.Value, p, f.Type)
		return
	}
	l.walk(mv.Value, p, f.Type)
}

// checkText parses a scalar into a TextUnmarshaler type (durations, sizes)
// so that a bad value is reported at its own line, with the others.
func (l *loader) checkText(n ast.Node, path string, t reflect.Type) {
	tok := n.GetToken()
	if tok == nil {
		return
	}
	switch n.(type) {
	case *ast.MappingNode, *ast.SequenceNode:
		l.addAt(tok.Position.Line, tok.Position.Column, path, "want a single value")
		return
	case *ast.NullNode:
		return
	}
	v := reflect.New(t).Interface().(encoding.TextUnmarshaler)
	if err := v.UnmarshalText([]byte(tok.Value)); err != nil {
		l.addAt(tok.Position.Line, tok.Position.Column, path, err.Error())
	}
}

func mapKey(k ast.MapKeyNode) string {
	switch n := k.(type) {
	case *ast.StringNode:
		return n.Value
	case *ast.MappingKeyNode:
		if s, ok := n.Value.(*ast.StringNode); ok {
			return s.Value
		}
	}
	if tok := k.GetToken(); tok != nil {
		return tok.Value
	}
	return k.String()
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if name := strings.Split(f.Tag.Get("yaml"), ",")[0]; name == key && name != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func knownKeys(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if name := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]; name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// clip shortens s, a name from the file, for a message.
func clip(s string) string {
	const max = 64
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-4]) + "…"
}
