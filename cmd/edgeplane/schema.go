package main

import (
	"fmt"
	"io"

	"github.com/edgeplane/edgeplane/configs"
)

const schemaUsage = `usage: edgeplane schema > edgeplane.schema.json

Prints the JSON Schema (draft-07) of the configuration file. Editors with
yaml-language-server (VS Code's YAML extension, Neovim, Helix) complete and
check a config whose first line names it:

  # yaml-language-server: $schema=./edgeplane.schema.json

The schema checks keys, types and enumerated values; edgeplane validate
also checks what depends on several options.
`

// cmdSchema prints the JSON Schema of the configuration file, the one
// embedded in the binary (configs/edgeplane.schema.json).
func cmdSchema(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("schema", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, schemaUsage) }
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "edgeplane schema: unexpected argument %q\n\n%s", fs.Arg(0), schemaUsage)
		return errUsage
	}
	_, err := stdout.Write(configs.Schema)
	return err
}
