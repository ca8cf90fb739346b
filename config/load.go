package config

import (
	"encoding"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
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

// Load reads, parses, defaults and validates the config at path. On any
// problem it returns an *Error listing all of them, each at its
// file:line:col.
//
// The path may name a directory: its *.yaml and *.yml files (not hidden
// ones, not those in subdirectories) are then read in lexical order as one
// config. Their sources and pipelines lists are concatenated; the
// gateway, nats and kafka sections are merged option by option, and an
// option set in two files to different values is a problem naming both.
// An empty file in a directory adds nothing; a directory without such
// files is a problem. Config.File is then the directory.
//
// ${VAR} is replaced by the environment variable VAR before parsing (see
// the package documentation); a problem never prints the value, only the
// ${VAR} reference.
//
// Load refuses, with a problem at the place that passes the bound and
// before the parser sees it, a config that could exhaust the process: it
// reads at most MaxFileBytes (for a directory, over all its files; and
// after substitution), and then allows at most MaxNodes values, nested at
// most MaxDepth levels deep, mappings of at most MaxMapKeys keys of at
// most MaxKeyBytes each, where an alias counts as everything its anchor
// holds (an alias bomb is refused); an anchor must be defined once,
// before its aliases. No option needs a YAML tag (!foo) or an explicit
// key (? key): they are refused too. A running gateway re-reads its
// config with Load on SIGHUP, so all this holds there too.
func Load(path string) (*Config, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read config: %w", err)
	}
	if fi.IsDir() {
		return loadDir(path)
	}
	data, err := readAtMost(path, MaxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("cannot read config: %w", err)
	}
	return LoadBytes(path, data, os.LookupEnv)
}

// LoadBytes is Load for one file's contents; lookup resolves ${VAR} (nil:
// no variable is set).
func LoadBytes(name string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	return load(name, []*document{{name: name, data: data}}, lookup, false)
}

// readAtMost reads the file at path, but not more than n+1 bytes.
func readAtMost(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, int64(n)+1))
}

// document is one file of a config.
type document struct {
	name string
	data []byte
	exp  *expansion
	root ast.Node // nil when the file failed to parse, or is empty
	pos  map[string]Pos
	cfg  Config
}

// load loads docs as one config named name; in a directory (dir) an empty
// file is allowed.
func load(name string, docs []*document, lookup func(string) (string, bool), dir bool) (*Config, error) {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	l := &loader{file: name, docs: docs, items: map[string]int{}, bad: map[string]bool{}}
	for _, d := range docs {
		l.parse(d, lookup, dir)
	}
	if l.fatal {
		return nil, l.err()
	}
	// What the walk refused — unknown keys, values that do not parse (now
	// null) — leaves the rest decodable: decode and validate it, so that
	// one run reports every problem. A wrongly typed value stops it here.
	for _, d := range docs {
		if d.root == nil {
			continue
		}
		if err := safely(func() error { return yaml.NodeToValue(d.root, &d.cfg) }); err != nil {
			l.addYAMLError(d, err)
			l.fatal = true
		}
	}
	if l.fatal {
		return nil, l.err()
	}
	c := l.merge(docs)
	c.File = name
	c.pos = l.pos
	host, _ := os.Hostname()
	if host == "" {
		host = "gateway"
	}
	c.ApplyDefaults(host)
	_, ps := compile(&c)
	for _, p := range ps {
		if !l.bad[p.Path] { // already reported as a bad value
			l.add(p.Path, p.Msg)
		}
	}
	if len(l.problems) > 0 {
		return nil, l.err()
	}
	return &c, nil
}

// parse substitutes, bounds, parses and walks one file, leaving its tree
// and the positions of its options in d.
func (l *loader) parse(d *document, lookup func(string) (string, bool), dir bool) {
	before := len(l.problems)
	defer func() {
		if d.root == nil && len(l.problems) > before {
			l.fatal = true // the file could not be read as a tree
		}
	}()
	if len(d.data) > MaxFileBytes {
		b := d.data[:MaxFileBytes]
		line, col := newText(b).lineCol(len(b))
		l.addAt(d, line, col, "", fmt.Sprintf("the file is larger than %s, the limit for a config; it passes the limit here", sizeName(MaxFileBytes)))
		return
	}
	if d.exp = l.expand(d, lookup, MaxFileBytes-l.bytes); d.exp == nil {
		return
	}
	if l.bytes += len(d.exp.out); l.bytes > MaxFileBytes {
		l.addAt(d, 1, 1, "", fmt.Sprintf("with its ${VAR}s substituted the config is larger than %s, the limit", sizeName(MaxFileBytes)))
		return
	}
	if !l.prescan(d, d.exp.out) {
		return
	}
	toks := lexer.Tokenize(string(d.exp.out))
	d.exp.secretTokens(toks)
	if !l.checkTokens(d, toks) {
		return
	}
	var f *ast.File
	err := safely(func() (err error) { f, err = parser.Parse(toks, 0); return err })
	if err != nil {
		l.addYAMLError(d, err)
		return
	}
	var root ast.Node
	if len(f.Docs) > 0 {
		root = f.Docs[0].Body
	}
	for _, doc := range f.Docs[min(1, len(f.Docs)):] {
		if doc.Body != nil {
			l.addTok(d, doc.Body.GetToken(), "", "a second YAML document (after ---) is not supported; use a config directory with one file each")
			return
		}
	}
	if root == nil {
		if !dir {
			l.addAt(d, 0, 0, "", "the file is empty")
		}
		return
	}
	if !l.checkTree(d, root) {
		return
	}
	d.root, d.pos = root, map[string]Pos{}
	l.cur, l.pos = d, d.pos
	l.walk(root, "", reflect.TypeOf(Config{}))
}

// yamlPanic is the message of a problem made of a panic in the YAML
// library, which the bounds and checks before it should leave none.
const yamlPanic = "the YAML library failed on this file; please report it, with the file"

// safely runs f, a call into the YAML library, turning a panic into an
// error: a bad file must not end the process, nor a running gateway
// reloading it.
func safely(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s (%v)", yamlPanic, r)
		}
	}()
	return f()
}

type loader struct {
	file string // the config: a file, or a directory
	docs []*document
	// cur is the document walked; pos holds its positions, then those of
	// the merged config.
	cur      *document
	pos      map[string]Pos
	bad      map[string]bool // options whose value the walk refused
	fatal    bool            // a file could not be parsed or decoded
	items    map[string]int  // sources and pipelines walked, for the next file
	problems []Problem
	// Counted over all documents, against the bounds.
	bytes, units, tokens, nodes int
}

// maxProblems bounds the problems an *Error lists; a last one counts the
// others.
const maxProblems = 100

// err sorts the problems by file and line, keeps the first maxProblems,
// and hides values from the environment.
func (l *loader) err() error {
	order := map[string]int{}
	for i, d := range l.docs {
		order[d.name] = i + 1
	}
	sort.SliceStable(l.problems, func(i, j int) bool {
		a, b := l.problems[i], l.problems[j]
		if fa, fb := order[a.File], order[b.File]; fa != fb {
			return fa < fb
		}
		return a.Line < b.Line
	})
	if n := len(l.problems) - maxProblems; n > 0 {
		l.problems = append(l.problems[:maxProblems], Problem{File: l.file, Msg: fmt.Sprintf("and %d more problems", n)})
	}
	r := l.redactor()
	for i := range l.problems {
		r.redact(&l.problems[i])
	}
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

// addAt records a problem at line:col of d's own text.
func (l *loader) addAt(d *document, line, col int, path, msg string) {
	l.problems = append(l.problems, Problem{File: d.name, Line: line, Col: col, Path: path, Msg: msg})
}

// addOut records a problem at line:col of d's substituted text.
func (l *loader) addOut(d *document, line, col int, msg string) {
	line, col = d.exp.mapPos(line, col)
	l.addAt(d, line, col, "", msg)
}

// addTok records a problem at a token of d's substituted text.
func (l *loader) addTok(d *document, tok *token.Token, path, msg string) {
	if tok == nil || tok.Position == nil {
		l.addAt(d, 0, 0, path, msg)
		return
	}
	line, col := d.exp.mapPos(tok.Position.Line, tok.Position.Column)
	l.addAt(d, line, col, path, msg)
}

func (l *loader) lineOf(d *document, tok *token.Token) int {
	if tok == nil || tok.Position == nil {
		return 0
	}
	line, _ := d.exp.mapPos(tok.Position.Line, 0)
	return line
}

// posOf is where tok, of the document walked, stands in its file.
func (l *loader) posOf(tok *token.Token) Pos {
	if tok.Position == nil {
		return Pos{File: l.cur.name}
	}
	line, col := l.cur.exp.mapPos(tok.Position.Line, tok.Position.Column)
	return Pos{l.cur.name, line, col}
}

// addYAMLError turns a go-yaml error about d into a problem with its
// position.
func (l *loader) addYAMLError(d *document, err error) {
	var ye yaml.Error
	if errors.As(err, &ye) {
		msg := ye.GetMessage()
		var te *yaml.TypeError
		if errors.As(err, &te) {
			msg = typeMsg(te)
		}
		l.addTok(d, ye.GetToken(), "", msg)
		return
	}
	msg := err.Error()
	if line, col, rest, ok := parseLeadingPos(msg); ok {
		l.addOut(d, line, col, rest)
		return
	}
	l.addAt(d, 0, 0, "", msg)
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
		first := 0
		if lists[path] { // numbered after those of the files before
			first = l.items[path]
			l.items[path] += len(n.Values)
		}
		for i, v := range n.Values {
			p := path + "[" + strconv.Itoa(first+i) + "]"
			if tok := v.GetToken(); tok != nil {
				l.pos[p] = l.posOf(tok)
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
		l.pos[p] = l.posOf(tok)
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
		l.addTok(l.cur, tok, p, msg)
		return
	}
	if reflect.PointerTo(f.Type).Implements(textUnmarshaler) {
		if !l.checkText(mv.Value, p, f.Type) {
			// Reported: decode the rest as if the option were empty.
			mv.Value = ast.Null(mv.Value.GetToken())
			l.bad[p] = true
		}
		return
	}
	l.walk(mv.Value, p, f.Type)
}

// checkText parses a scalar into a TextUnmarshaler type (durations, sizes)
// so that a bad value is reported at its own line, with the others.
func (l *loader) checkText(n ast.Node, path string, t reflect.Type) bool {
	tok := n.GetToken()
	if tok == nil {
		return true
	}
	switch n.(type) {
	case *ast.MappingNode, *ast.SequenceNode:
		l.addTok(l.cur, tok, path, "want a single value")
		return false
	case *ast.NullNode:
		return true
	}
	v := reflect.New(t).Interface().(encoding.TextUnmarshaler)
	if err := v.UnmarshalText([]byte(tok.Value)); err != nil {
		l.addTok(l.cur, tok, path, err.Error())
		return false
	}
	return true
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
