package config

import (
	"fmt"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// The YAML library panics on some malformed documents (found by
// FuzzValidatesBuilds: a tag before a sequence item, decodeSlice on a nil
// node). A configuration file is outside input and a reload must never
// take the gateway down, so every call into the library goes through
// these, which turn a panic into an error.

func parseYAML(data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("the YAML parser failed on this file (%v): check its indentation, tags and anchors", r)
		}
	}()
	return parser.ParseBytes(data, 0)
}

func nodeToValue(root ast.Node, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML decoder failed on this file (%v): check its indentation, tags and anchors", r)
		}
	}()
	return yaml.NodeToValue(root, v)
}
