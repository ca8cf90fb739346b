package pipeline

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"strings"
)

// exposition collects samples by metric family and writes them in the
// Prometheus text format with one HELP and one TYPE line per family, all
// of the family's samples after them: the samples of a family may be added
// in any order relative to other families (one series per source or
// pipeline), but are written together, families in the order of their
// first sample. VictoriaMetrics/metrics writes HELP lines without text
// and repeats them per series when series are written one by one, which
// `promtool check metrics` refuses.
type exposition struct {
	order  []*family
	byName map[string]*family
}

// family is one metric family: its name, help text, type (counter, gauge,
// histogram, summary or untyped) and its sample lines, each ending in \n.
type family struct {
	name, help, typ string
	samples         bytes.Buffer
}

// fam returns the family name, creating it with typ and help on first
// use; later calls keep the first type and help.
func (e *exposition) fam(name, typ, help string) *family {
	if f, ok := e.byName[name]; ok {
		return f
	}
	if e.byName == nil {
		e.byName = map[string]*family{}
	}
	f := &family{name: name, help: help, typ: typ}
	e.byName[name] = f
	e.order = append(e.order, f)
	return f
}

// sample adds the line `<family name><suffix><labels> <value>`; labels is
// "" or `{k="v",…}` (see labels), suffix is "" or _bucket, _sum, _count.
func (f *family) sample(suffix, labels, value string) {
	f.samples.WriteString(f.name)
	f.samples.WriteString(suffix)
	f.samples.WriteString(labels)
	f.samples.WriteByte(' ')
	f.samples.WriteString(value)
	f.samples.WriteByte('\n')
}

// writeTo writes every family: HELP, TYPE, then its samples.
func (e *exposition) writeTo(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, f := range e.order {
		bw.WriteString("# HELP ")
		bw.WriteString(f.name)
		bw.WriteByte(' ')
		bw.WriteString(escapeHelp(f.help))
		bw.WriteString("\n# TYPE ")
		bw.WriteString(f.name)
		bw.WriteByte(' ')
		bw.WriteString(f.typ)
		bw.WriteByte('\n')
		bw.Write(f.samples.Bytes())
	}
	return bw.Flush()
}

// labels renders label pairs k1, v1, k2, v2, … as {k1="v1",k2="v2"}.
func labels(kv ...string) string {
	if len(kv) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv[i])
		b.WriteString(`="`)
		b.WriteString(escapeLabel(kv[i+1]))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// escapeLabel escapes a label value: backslash, double quote, newline.
func escapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// escapeHelp escapes a help text: backslash and newline.
func escapeHelp(s string) string {
	if !strings.ContainsAny(s, "\\\n") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

func formatUint(v uint64) string { return strconv.FormatUint(v, 10) }

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// addLibrary adds the Prometheus text that VictoriaMetrics/metrics writes
// (its Go runtime and process metrics), whether or not its metadata is
// enabled: each sample goes to its family, named, typed and described by
// runtimeFamilies. The library's own HELP lines are empty and are dropped;
// its TYPE lines only type families runtimeFamilies does not know.
func (e *exposition) addLibrary(text []byte) {
	libType := map[string]string{}
	cur := ""
	for len(text) > 0 {
		var line []byte
		if i := bytes.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			line, text = text, nil
		}
		s := string(line)
		if strings.HasPrefix(s, "# TYPE ") {
			if f := strings.Fields(s[len("# TYPE "):]); len(f) == 2 {
				cur, libType[f[0]] = f[0], f[1]
			}
			continue
		}
		if s == "" || s[0] == '#' {
			continue
		}
		name := s
		if i := strings.IndexAny(s, "{ "); i >= 0 {
			name = s[:i]
		}
		fname, suffix := libraryFamily(name, cur, libType[cur])
		def, known := runtimeFamilies[fname]
		typ, help, out := def.typ, def.help, fname
		if def.rename != "" {
			out = def.rename
		}
		if !known {
			typ = libType[fname]
			if typ == "" {
				typ = "untyped"
			}
			help = "Go runtime or process metric " + fname + " from github.com/VictoriaMetrics/metrics."
		}
		rest := s[len(name):]
		i := strings.LastIndexByte(rest, ' ')
		if i < 0 {
			continue
		}
		e.fam(out, typ, help).sample(suffix, rest[:i], rest[i+1:])
	}
}

// libraryFamily returns the family of a sample named name and the
// sample's suffix within it: cur, the family of the last TYPE line (of
// type curType), if name is cur, or cur's _bucket, _sum or _count and cur
// is a histogram or summary; else name if runtimeFamilies knows
// it; else name without such a suffix if that is a known histogram or
// summary; else name itself.
func libraryFamily(name, cur, curType string) (fam, suffix string) {
	if name == cur && cur != "" {
		return cur, ""
	}
	if base, sfx := cutSuffix(name); sfx != "" && base == cur && (curType == "histogram" || curType == "summary") {
		return cur, sfx
	}
	if _, ok := runtimeFamilies[name]; ok {
		return name, ""
	}
	if base, sfx := cutSuffix(name); sfx != "" {
		if d, known := runtimeFamilies[base]; known && (d.typ == "histogram" || d.typ == "summary") {
			return base, sfx
		}
	}
	return name, ""
}

// cutSuffix splits a histogram's or summary's _bucket, _sum or _count
// suffix off name; sfx is "" if name has none.
func cutSuffix(name string) (base, sfx string) {
	for _, sfx := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, sfx); ok {
			return base, sfx
		}
	}
	return name, ""
}
