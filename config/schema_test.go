package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"go/ast"
	"go/build"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite "+SchemaFile+" from the Go schema")

// TestSchemaCurrent regenerates the JSON Schema from the Go types and their
// doc comments and compares it with the committed file; -update rewrites
// the file instead.
func TestSchemaCurrent(t *testing.T) {
	got, err := JSONSchema(readSchemaDocs(t))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join("..", SchemaFile)
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v: run go test ./config -run TestSchemaCurrent -update", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		i := 0
		for i < len(gl) && i < len(wl) && gl[i] == wl[i] {
			i++
		}
		line := func(ls []string) string {
			if i < len(ls) {
				return ls[i]
			}
			return "(end of file)"
		}
		t.Fatalf("%s is out of date with the Go schema (first difference at line %d:\n  committed: %s\n  generated: %s)\n"+
			"run go test ./config -run TestSchemaCurrent -update", SchemaFile, i+1, line(wl), line(gl))
	}
}

// readSchemaDocs reads the doc comments of the struct types reachable
// from Config, and of their fields, from their packages' source.
func readSchemaDocs(t *testing.T) SchemaDocs {
	t.Helper()
	self := reflect.TypeOf(Config{}).PkgPath()
	pkgs := map[string]bool{self: true}
	seen := map[reflect.Type]bool{}
	var visit func(reflect.Type)
	visit = func(rt reflect.Type) {
		for rt.Kind() == reflect.Pointer || rt.Kind() == reflect.Slice || rt.Kind() == reflect.Array || rt.Kind() == reflect.Map {
			rt = rt.Elem()
		}
		if rt.Kind() != reflect.Struct || seen[rt] {
			return
		}
		seen[rt] = true
		if rt.PkgPath() != "" {
			pkgs[rt.PkgPath()] = true
		}
		for i := 0; i < rt.NumField(); i++ {
			visit(rt.Field(i).Type)
		}
	}
	visit(reflect.TypeOf(Config{}))

	docs := SchemaDocs{}
	for path := range pkgs {
		dir := "."
		if path != self {
			bp, err := build.Import(path, ".", build.FindOnly)
			if err != nil {
				t.Fatalf("find package %s: %v", path, err)
			}
			dir = bp.Dir
		}
		bp, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("package %s: %v", path, err)
		}
		fset := token.NewFileSet()
		var files []*ast.File
		for _, name := range bp.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
		p, err := doc.NewFromFiles(fset, files, path)
		if err != nil {
			t.Fatal(err)
		}
		for _, typ := range p.Types {
			key := path + "." + typ.Name
			docs[key] = typ.Doc
			for _, spec := range typ.Decl.Specs {
				ts, ok := spec.(*ast.TypeSpec)
				if !ok || ts.Name.Name != typ.Name {
					continue
				}
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				for _, f := range st.Fields.List {
					text := f.Doc.Text()
					if text == "" {
						text = f.Comment.Text()
					}
					for _, n := range fieldNames(f) {
						docs[key+"."+n] = text
					}
				}
			}
		}
	}
	return docs
}

// fieldNames returns the names a field declaration declares; an embedded
// field is named by its type.
func fieldNames(f *ast.Field) []string {
	var out []string
	for _, n := range f.Names {
		out = append(out, n.Name)
	}
	if len(out) == 0 {
		x := f.Type
		if s, ok := x.(*ast.StarExpr); ok {
			x = s.X
		}
		switch x := x.(type) {
		case *ast.Ident:
			out = append(out, x.Name)
		case *ast.SelectorExpr:
			out = append(out, x.Sel.Name)
		}
	}
	return out
}

// undocumented are the options with no doc comment of their own, nor one
// nearby that names them. A new option must not join them: give its field
// a doc comment.
var undocumented = []string{}

// TestSchemaDescribesOptions: every option has a description except the
// known undocumented ones.
func TestSchemaDescribesOptions(t *testing.T) {
	g := schemaGen{docs: readSchemaDocs(t)}
	seen := map[reflect.Type]bool{}
	var missing []string
	var visit func(reflect.Type)
	visit = func(rt reflect.Type) {
		for rt.Kind() == reflect.Pointer || rt.Kind() == reflect.Slice || rt.Kind() == reflect.Array || rt.Kind() == reflect.Map {
			rt = rt.Elem()
		}
		if rt.Kind() != reflect.Struct || seen[rt] || reflect.PointerTo(rt).Implements(textUnmarshaler) {
			return
		}
		seen[rt] = true
		fields := yamlFields(rt)
		for i, f := range fields {
			if g.describe(fields, i) == "" {
				missing = append(missing, f.owner.Name()+"."+f.field.Name)
			}
			visit(f.field.Type)
		}
	}
	visit(reflect.TypeOf(Config{}))
	for _, m := range missing {
		if !slices.Contains(undocumented, m) {
			t.Errorf("option %s has no doc comment: the JSON Schema would not describe it", m)
		}
	}
	for _, u := range undocumented {
		if !slices.Contains(missing, u) {
			t.Logf("%s is documented now: take it off the undocumented list", u)
		}
	}
}

type testEnum uint8

func (e *testEnum) UnmarshalText([]byte) error { return nil }
func (testEnum) EnumValues() []string          { return []string{"a", "b"} }

type testPtrEnum string

func (*testPtrEnum) EnumValues() []string { return []string{"x", "y"} }

type testText struct{ v []string }

func (t *testText) UnmarshalText(b []byte) error { t.v = []string{string(b)}; return nil }

type testInner struct {
	A int `yaml:"a"`
}

type testOuter struct {
	testInner `yaml:",inline"`
	E         testEnum             `yaml:"e"`
	P         testPtrEnum          `yaml:"p"`
	PE        *testEnum            `yaml:"pe"`
	Es        []testEnum           `yaml:"es"`
	M         map[string]testInner `yaml:"m"`
	MK        map[testEnum]bool    `yaml:"mk"`
	F         *float64             `yaml:"f"`
	U         uint16               `yaml:"u"`
	X         any                  `yaml:"x"`
	T         testText             `yaml:"t"`
	D         Duration             `yaml:"d"`
	B         ByteSize             `yaml:"b"`
	Self      *testOuter           `yaml:"self"`
	Skipped   string               `yaml:"-"`
	NoTag     string
	hidden    int
}

// TestSchemaTypes: how Go types map to JSON Schema.
func TestSchemaTypes(t *testing.T) {
	g := schemaGen{busy: map[reflect.Type]bool{}}
	n, err := g.schemaOf(reflect.TypeOf(testOuter{hidden: 1}))
	if err != nil {
		t.Fatal(err)
	}
	got, err := marshalNoEscape(n)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"object","properties":{` +
		`"a":{"type":"integer"},` +
		`"e":{"type":"string","enum":["a","b"]},` +
		`"p":{"type":"string","enum":["x","y"]},` +
		`"pe":{"type":"string","enum":["a","b"]},` +
		`"es":{"type":"array","items":{"type":"string","enum":["a","b"]}},` +
		`"m":{"type":"object","additionalProperties":{"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":false}},` +
		`"mk":{"type":"object","propertyNames":{"enum":["a","b"]},"additionalProperties":{"type":"boolean"}},` +
		`"f":{"type":"number"},` +
		`"u":{"type":"integer","minimum":0},` +
		`"x":{},` +
		`"t":{"type":"string"},` +
		`"d":{"anyOf":[{"type":"string","pattern":` + jsonString(durationPattern) + `},{"type":"integer"}]},` +
		`"b":{"anyOf":[{"type":"integer","minimum":0},{"type":"string","pattern":` + jsonString(byteSizePattern()) + `}]},` +
		`"self":{"type":"object"}` +
		`},"additionalProperties":false}`
	if string(got) != want {
		t.Fatalf("schema of testOuter:\n got %s\nwant %s", got, want)
	}
	if _, err := g.schemaOf(reflect.TypeOf(struct {
		C chan int `yaml:"c"`
	}{})); err == nil {
		t.Fatal("a channel field has a schema")
	}
}

func jsonString(s string) string {
	b, _ := marshalNoEscape(s)
	return string(b)
}

// TestSchemaPatterns: the string patterns of Duration and ByteSize accept
// what UnmarshalText accepts (out-of-range numbers and exotic float
// spellings such as 1e3 aside: the schema refuses those).
func TestSchemaPatterns(t *testing.T) {
	check := func(pattern string, unmarshal func(string) error, samples []string) {
		t.Helper()
		re := regexp.MustCompile(pattern)
		for _, s := range samples {
			if schemaOK, goOK := re.MatchString(s), unmarshal(s) == nil; schemaOK != goOK {
				t.Errorf("%q: the schema accepts it: %v; UnmarshalText: %v", s, schemaOK, goOK)
			}
		}
	}
	check(durationPattern, func(s string) error { var d Duration; return d.UnmarshalText([]byte(s)) }, []string{
		"10s", "1m30s", "250ms", "1.5h", ".5s", "5.s", "-1s", "+2m", "-0s", "1µs", "1μs", "1us", "1ns", "1h1m1s1ms",
		"off", "30", "-5", "+5", "0", " 10s ",
		"", "s", "1.5", "1d", "ten", "1 s", "1e3s", "OFF", "-off", "--1s", "1s-1s", ".s", "1m 30s",
	})
	check(byteSizePattern(), func(s string) error { var b ByteSize; return b.UnmarshalText([]byte(s)) }, []string{
		"512MiB", "1GB", "1048576", "1.5GiB", "2 GiB", "1B", "0", "1TB", "1TiB", "1KB", ".5KB", "5.", " 64MiB ",
		"", "1kb", "-1", "1XB", "MiB", "1 G", "1GiBs", "GiB1",
	})
}

// TestSchemaFileIsJSONSchema: the committed schema is a draft-07 object
// schema naming every top-level key of Config.
func TestSchemaFileIsJSONSchema(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", SchemaFile))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Schema     string                     `json:"$schema"`
		Type       string                     `json:"type"`
		Properties map[string]json.RawMessage `json:"properties"`
		Additional *bool                      `json:"additionalProperties"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s.Schema != "http://json-schema.org/draft-07/schema#" || s.Type != "object" || s.Additional == nil || *s.Additional {
		t.Fatalf("not a strict draft-07 object schema: %+v", s)
	}
	for _, f := range yamlFields(reflect.TypeOf(Config{})) {
		if _, ok := s.Properties[f.name]; !ok {
			t.Errorf("no property %q", f.name)
		}
	}
}
