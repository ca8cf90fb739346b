// Package config is edgeplane's configuration: the YAML a gateway runs
// from, its defaults, and the compile step that turns it into each
// stage's typed options.
//
// Load reads a file, or a directory of *.yaml files taken as one config
// (lists concatenated, scalar sections merged, conflicts reported with
// both places). Loading is strict and bounded: an unknown key is an error
// (with a "did you mean"), and input that could exhaust a small gateway —
// files over MaxFileBytes, nesting over MaxDepth, more than MaxNodes
// values, alias bombs, YAML tags — is refused before the parser sees it.
// ${VAR} is replaced by the environment variable VAR before parsing
// (${VAR:-default} for a default, $$ for a literal $); a problem prints the
// reference, never the value. Secrets can also come from files
// (password_file, token_file).
//
// Defaults fill only the options left out of the file (Config.Has):
// a value written in the file, zero included, is kept and validated.
// Compile then checks the file as a whole, builds each stage's options
// (Compiled) and runs each stage's own Validate, mapping every problem back
// to its file:line:col. Load, `edgeplane validate`, pipeline.New and a
// reload all go through it, so what validates is what runs.
//
// The package reads files and the environment, nothing else: it starts no
// component. Package pipeline turns Compiled options into running stages.
package config
