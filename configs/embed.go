// Package configs holds the example configuration files and the JSON
// Schema of the configuration, and embeds the two the binary needs:
// `edgeplane schema` prints Schema, and `edgeplane demo` runs Demo when
// no -c is given, so both work outside the source tree.
//
// edgeplane.schema.json is generated from package config; after changing
// the Go schema run
//
//	go test ./config -run TestSchemaCurrent -update
package configs

import _ "embed"

// Schema is edgeplane.schema.json: the JSON Schema (draft-07) of the
// configuration file. Do not modify it.
//
//go:embed edgeplane.schema.json
var Schema []byte

// Demo is demo.yaml: the configuration `edgeplane demo` runs by default.
// Do not modify it.
//
//go:embed demo.yaml
var Demo []byte

// DemoName is the file name config.LoadBytes reports for Demo.
const DemoName = "demo.yaml (built in)"
