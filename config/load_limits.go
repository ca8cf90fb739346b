package config

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// Bounds on what Load accepts. A bad or hostile file — or one a running
// gateway re-reads on SIGHUP — is refused before it can take the process's
// memory or time: the YAML parser's cost grows with the number of values
// times the length of their paths, and with the square of the keys of a
// block mapping; an alias can stand for any number of values. A real
// gateway config is a few KiB, far inside every bound.
const (
	// MaxFileBytes bounds a config file, the files of a config directory
	// together, and either after ${VAR} substitution.
	MaxFileBytes = 1 << 20
	// MaxDepth bounds how deeply mappings and sequences nest, counting
	// what aliases stand for.
	MaxDepth = 64
	// MaxNodes bounds the YAML values of a config (keys, scalars, mappings,
	// sequences), each alias counting as all the values it stands for.
	MaxNodes = 50_000
	// MaxKeyBytes bounds one mapping key.
	MaxKeyBytes = 256
	// MaxMapKeys bounds the keys of one mapping: the parser's work on a
	// block mapping grows with the square of its keys.
	MaxMapKeys = 256

	// maxScanUnits bounds the byte pre-scan's over-estimate of the
	// tokens in a config, so the tokenizer never sees many more than
	// MaxNodes of them.
	maxScanUnits = 2 * MaxNodes
	// maxPathBytes bounds the total length of the paths the parser builds,
	// one per value and each as long as its ancestors' keys together.
	maxPathBytes = 16 << 20
)

func sizeName(n int) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

func tooManyValues() string {
	return fmt.Sprintf("more than %d values by here (the limit for a config)", MaxNodes)
}

func tooDeep() string {
	return fmt.Sprintf("values nested more than %d levels deep (the limit for a config)", MaxDepth)
}

// prescan bounds what the tokenizer is given. It counts each run of
// non-blank bytes and, twice, each byte that may split a run into tokens
// ([]{},:"'), an over-estimate of the tokens, against maxScanUnits for
// all files together. It also follows flow brackets and chains of block
// sequence entries ("- - -") outside quotes and comments, and refuses
// them nested more than MaxDepth deep: a lower bound of the nesting, as
// it ignores indentation, which the token check adds.
func (l *loader) prescan(d *document, b []byte) bool {
	inWord, comment, entryRun := false, false, true
	var quote byte
	flow, chain := 0, 0
	line, lineStart := 1, 0
	fail := func(i int, msg string) bool {
		l.addOut(d, line, utf8.RuneCount(b[lineStart:i])+1, msg)
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		prev := byte('\n')
		if i > 0 {
			prev = b[i-1]
		}
		atStart := prev == ' ' || prev == '\t' || prev == '\n' || prev == '\r'
		switch c {
		case ' ', '\t', '\r', '\n':
			inWord = false
			if c == '\n' {
				line, lineStart = line+1, i+1
				comment, entryRun, chain = false, true, 0
			}
			continue
		case '[', ']', '{', '}', ',', ':', '"', '\'':
			l.units += 2
		}
		if !inWord {
			inWord = true
			l.units++
		}
		if l.units > maxScanUnits {
			return fail(i, tooManyValues())
		}
		switch {
		case comment:
		case quote == '"':
			if c == '"' && !escaped(b, i) {
				quote = 0
			}
		case quote == '\'':
			if c == '\'' && i+1 < len(b) && b[i+1] == '\'' {
				i++ // '' is a quote inside
			} else if c == '\'' {
				quote = 0
			}
		case c == '#' && atStart:
			comment = true
		case (c == '"' || c == '\'') && (atStart || flow > 0 && strings.IndexByte("[{,:", prev) >= 0):
			quote = c
		case (c == '[' || c == '{') && (flow > 0 || atStart):
			if flow++; flow > MaxDepth {
				return fail(i, tooDeep())
			}
		case (c == ']' || c == '}') && flow > 0:
			flow--
		case c == '-' && flow == 0 && entryRun && (i+1 == len(b) || b[i+1] == ' ' || b[i+1] == '\t'):
			if chain++; chain > MaxDepth {
				return fail(i, tooDeep())
			}
			continue
		}
		entryRun = false
	}
	return true
}

// escaped reports whether b[i] follows an odd number of backslashes.
func escaped(b []byte, i int) bool {
	n := 0
	for i > 0 && b[i-1] == '\\' {
		n, i = n+1, i-1
	}
	return n%2 == 1
}

// frame is a mapping or sequence open at a token, for checkTokens.
type frame struct {
	col  int // block collections: the column of their entries
	flow bool
	seq  bool
	cost int // bytes it adds to the path of a value inside it
	keys int // of a mapping, so far
}

// checkTokens bounds what the parser is given: values, their nesting (as
// block indentation and flow brackets open them), the length of keys, the
// keys of a mapping, and the paths the parser builds for them. It refuses
// keys the config never has and that would make those paths unbounded:
// explicit (?) keys and keys that are mappings or sequences.
func (l *loader) checkTokens(d *document, toks token.Tokens) bool {
	var frames []frame
	stack, paths, flow := 0, 0, 0
	push := func(f frame) {
		frames = append(frames, f)
		stack += f.cost
	}
	pop := func() {
		stack -= frames[len(frames)-1].cost
		frames = frames[:len(frames)-1]
	}
	// block opens (or continues) a block mapping (seq false) or sequence
	// with an entry at column col, and returns it.
	block := func(col int, seq bool, cost int) *frame {
		for len(frames) > 0 {
			f := frames[len(frames)-1]
			if f.flow || f.col < col || f.col == col && (f.seq == seq || !f.seq) {
				break
			}
			pop()
		}
		if n := len(frames); n > 0 && !frames[n-1].flow && frames[n-1].col == col && frames[n-1].seq == seq {
			stack += cost - frames[n-1].cost
			frames[n-1].cost = cost
			return &frames[n-1]
		}
		push(frame{col: col, seq: seq, cost: cost})
		return &frames[len(frames)-1]
	}
	var prev *token.Token
	for i, tk := range toks {
		if tk.Type == token.CommentType {
			continue
		}
		fail := func(msg string) bool {
			l.addTok(d, tk, "", msg)
			return false
		}
		if l.tokens++; l.tokens > MaxNodes {
			return fail(tooManyValues())
		}
		switch tk.Type {
		case token.DocumentHeaderType, token.DocumentEndType:
			frames, stack, flow = frames[:0], 0, 0
		case token.SequenceStartType, token.MappingStartType:
			push(frame{flow: true, seq: tk.Type == token.SequenceStartType, cost: 8})
			flow++
		case token.SequenceEndType, token.MappingEndType:
			for flow > 0 {
				f := frames[len(frames)-1]
				pop()
				if f.flow {
					flow--
					break
				}
			}
		case token.SequenceEntryType:
			if flow == 0 {
				block(tk.Position.Column, true, 8)
			}
		case token.MappingKeyType:
			return fail("explicit keys (? key) are not supported in a config")
		case token.MappingValueType:
			if prev != nil && (prev.Type == token.SequenceEndType || prev.Type == token.MappingEndType) {
				return fail("a key must be a name, not a sequence or mapping")
			}
		default:
			if next := nextToken(toks, i); next == nil || next.Type != token.MappingValueType {
				break
			}
			if len(tk.Value) > MaxKeyBytes {
				return fail(fmt.Sprintf("a key of %d bytes, more than %d (the limit for a config)", len(tk.Value), MaxKeyBytes))
			}
			cost := len(tk.Value) + 8
			var f *frame
			if flow == 0 {
				f = block(tk.Position.Column, false, cost)
			} else if f = &frames[len(frames)-1]; cost > f.cost {
				stack += cost - f.cost
				f.cost = cost
			}
			if f.seq {
				break // [a: 1, b: 2] holds mappings of a key each
			}
			if f.keys++; f.keys > MaxMapKeys {
				return fail(fmt.Sprintf("a mapping of more than %d keys (the limit for a config)", MaxMapKeys))
			}
		}
		if len(frames) > MaxDepth {
			return fail(tooDeep())
		}
		if paths += stack; paths > maxPathBytes {
			return fail(fmt.Sprintf("keys too long for how many values nest under them: their paths exceed %s (the limit for a config)", sizeName(maxPathBytes)))
		}
		prev = tk
	}
	return true
}

func nextToken(toks token.Tokens, i int) *token.Token {
	for _, tk := range toks[i+1:] {
		if tk.Type != token.CommentType {
			return tk
		}
	}
	return nil
}

// treeCheck bounds what the decoder is given: values and nesting counted
// with what each alias stands for, which defeats alias bombs ("billion
// laughs"). Each anchor must be defined once and before its aliases, so
// that what an alias stands for is known where it is met. It refuses YAML
// tags.
type treeCheck struct {
	l       *loader
	d       *document
	anchors map[string]*anchorInfo
	failed  bool
}

type anchorInfo struct {
	size, height int
	done         bool
	line         int
}

func (l *loader) checkTree(d *document, root ast.Node) bool {
	c := &treeCheck{l: l, d: d, anchors: map[string]*anchorInfo{}}
	c.visit(root, 0)
	return !c.failed
}

func (c *treeCheck) fail(n ast.Node, msg string) {
	if !c.failed {
		c.failed = true
		c.l.addTok(c.d, n.GetToken(), "", msg)
	}
}

// count adds k values met at n to the config's total.
func (c *treeCheck) count(n ast.Node, k int, alias string) {
	if c.l.nodes += k; c.l.nodes > MaxNodes {
		if alias != "" {
			c.fail(n, fmt.Sprintf("alias *%s stands for %d values: with it the config has more than %d (the limit)", alias, k, MaxNodes))
			return
		}
		c.fail(n, tooManyValues())
	}
}

// visit checks n, inside depth mappings and sequences, and returns the
// values it holds and how many levels of mappings and sequences it has.
func (c *treeCheck) visit(n ast.Node, depth int) (size, height int) {
	if c.failed || n == nil {
		return 0, 0
	}
	switch n := n.(type) {
	case *ast.AliasNode:
		name := n.Value.GetToken().Value
		a := c.anchors[name]
		switch {
		case a == nil:
			c.fail(n, fmt.Sprintf("alias *%s has no anchor &%s before it", clip(name), clip(name)))
		case !a.done:
			c.fail(n, fmt.Sprintf("alias *%s is inside its own anchor (line %d)", clip(name), a.line))
		case depth+a.height > MaxDepth:
			c.fail(n, fmt.Sprintf("alias *%s nests values more than %d levels deep (the limit for a config)", clip(name), MaxDepth))
		default:
			c.count(n, a.size, clip(name))
			return a.size, a.height
		}
		return 0, 0
	case *ast.DocumentNode:
		return c.visit(n.Body, depth)
	case *ast.CommentGroupNode:
		return 0, 0
	}
	c.count(n, 1, "")
	switch n := n.(type) {
	case *ast.AnchorNode:
		name := n.Name.GetToken().Value
		if a := c.anchors[name]; a != nil {
			c.fail(n, fmt.Sprintf("anchor &%s is defined twice (first at line %d); give each its own name", clip(name), a.line))
			return 0, 0
		}
		a := &anchorInfo{line: c.l.lineOf(c.d, n.GetToken())}
		c.anchors[name] = a
		a.size, a.height = c.visit(n.Value, depth)
		a.done = true
		return a.size + 1, a.height
	case *ast.TagNode:
		// The decoder crashes on some tagged values (a tagged scalar as a
		// list), and an option never needs a tag.
		c.fail(n, fmt.Sprintf("YAML tags (%s) are not supported in a config", clip(n.Start.Value)))
		return 0, 0
	case *ast.MappingKeyNode:
		size, height = c.visit(n.Value, depth)
		return size + 1, height
	case *ast.MappingNode:
		if depth+1 > MaxDepth {
			c.fail(n, tooDeep())
			return 0, 0
		}
		size = 1
		for _, mv := range n.Values {
			s, h := c.pair(mv, depth+1)
			size, height = size+s, max(height, h)
		}
		return size, height + 1
	case *ast.MappingValueNode:
		if depth+1 > MaxDepth {
			c.fail(n, tooDeep())
			return 0, 0
		}
		s, h := c.pair(n, depth+1)
		return s + 1, h + 1
	case *ast.SequenceNode:
		if depth+1 > MaxDepth {
			c.fail(n, tooDeep())
			return 0, 0
		}
		size = 1
		for _, v := range n.Values {
			s, h := c.visit(v, depth+1)
			size, height = size+s, max(height, h)
		}
		return size, height + 1
	}
	return 1, 0
}

// pair checks a key and its value in a mapping at depth.
func (c *treeCheck) pair(mv *ast.MappingValueNode, depth int) (size, height int) {
	c.count(mv, 1, "")
	ks, kh := c.visit(mv.Key, depth)
	vs, vh := c.visit(mv.Value, depth)
	return 1 + ks + vs, max(kh, vh)
}
