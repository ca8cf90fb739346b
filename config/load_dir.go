package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
)

// loadDir loads the *.yaml and *.yml files of dir, in lexical order, as
// one config (see Load).
func loadDir(dir string) (*Config, error) {
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("cannot read config: %w", err)
	}
	var docs []*document
	left := MaxFileBytes
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".yaml") && !strings.HasSuffix(name, ".yml") {
			continue
		}
		path := filepath.Join(dir, name)
		if fi, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("cannot read config: %w", err)
		} else if !fi.Mode().IsRegular() {
			continue
		}
		data, err := readAtMost(path, left)
		if err != nil {
			return nil, fmt.Errorf("cannot read config: %w", err)
		}
		if len(data) > left {
			b := data[:left]
			line, col := newText(b).lineCol(len(b))
			return nil, &Error{Problems: []Problem{{File: path, Line: line, Col: col,
				Msg: fmt.Sprintf("the files of %s together are larger than %s, the limit for a config; they pass the limit here", dir, sizeName(MaxFileBytes))}}}
		}
		left -= len(data)
		docs = append(docs, &document{name: path, data: data})
	}
	if len(docs) == 0 {
		return nil, &Error{Problems: []Problem{{File: dir, Msg: "the config directory has no *.yaml or *.yml file"}}}
	}
	return load(dir, docs, os.LookupEnv, true)
}

// lists are the top-level options whose items the files of a directory
// concatenate (and the walk numbers in that order: the first pipeline of
// the second file is pipelines[N]); every other top-level option is a
// section merged option by option.
var lists = map[string]bool{"sources": true, "pipelines": true}

// merge makes the config of docs, and its positions l.pos: sources and
// pipelines are concatenated; the options of the other sections come from
// the first file that sets them, and a later file setting one to another
// value is a problem.
func (l *loader) merge(docs []*document) Config {
	if len(docs) == 1 {
		l.pos = docs[0].pos
		return docs[0].cfg
	}
	var c Config
	l.pos = map[string]Pos{}
	cv := reflect.ValueOf(&c).Elem()
	owner := map[string]int{} // option → the document its value is taken from
	for i := 0; i < cv.NumField(); i++ {
		f := cv.Type().Field(i)
		name := yamlName(f)
		if name == "" || lists[name] || f.Type.Kind() != reflect.Struct {
			continue
		}
		l.mergeOptions(docs, name, []int{i}, f.Type, cv, owner)
	}
	for j, d := range docs {
		if d.root == nil {
			continue
		}
		c.Sources = append(c.Sources, d.cfg.Sources...)
		c.Pipelines = append(c.Pipelines, d.cfg.Pipelines...)
		for k, p := range d.pos {
			if o, ok := ownerOf(k, owner); ok && o != j {
				continue // within an option whose value another file gives
			}
			if _, ok := l.pos[k]; !ok {
				l.pos[k] = p
			}
		}
	}
	return c
}

// mergeOptions merges the options of a section (path, at index in Config,
// of type t) into dst, option by option.
func (l *loader) mergeOptions(docs []*document, path string, index []int, t reflect.Type, dst reflect.Value, owner map[string]int) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := yamlName(f)
		if name == "" {
			continue
		}
		p := path + "." + name
		idx := append(append([]int(nil), index...), i)
		if f.Type.Kind() == reflect.Struct && !reflect.PointerTo(f.Type).Implements(textUnmarshaler) {
			l.mergeOptions(docs, p, idx, f.Type, dst, owner)
			continue
		}
		first := -1
		for j, d := range docs {
			at, ok := d.pos[p]
			if !ok {
				continue
			}
			v := reflect.ValueOf(&d.cfg).Elem().FieldByIndex(idx)
			if first < 0 {
				first, owner[p] = j, j
				dst.FieldByIndex(idx).Set(v)
				continue
			}
			if !reflect.DeepEqual(v.Interface(), dst.FieldByIndex(idx).Interface()) {
				l.problems = append(l.problems, Problem{File: at.File, Line: at.Line, Col: at.Col, Path: p,
					Msg: fmt.Sprintf("set in %s and again in %s, to another value", posName(docs[first].pos[p]), posName(at))})
			}
		}
	}
}

func yamlName(f reflect.StructField) string {
	name := strings.Split(f.Tag.Get("yaml"), ",")[0]
	if name == "-" {
		return ""
	}
	return name
}

// ownerOf returns the document giving the option at or above path k.
func ownerOf(k string, owner map[string]int) (int, bool) {
	if i := strings.IndexByte(k, '['); i >= 0 {
		k = k[:i]
	}
	for i := 0; i <= len(k); i++ {
		if i == len(k) || k[i] == '.' {
			if o, ok := owner[k[:i]]; ok {
				return o, true
			}
		}
	}
	return 0, false
}

func posName(p Pos) string {
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}
