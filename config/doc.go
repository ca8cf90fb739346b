// Package config is edgeplane's configuration schema: the YAML file a
// gateway runs from, its defaults, and one validation pass that reports
// every problem at once, each with file:line.
//
// Loading is strict: an unknown key is an error, reported with the others.
// ${VAR} in the file is replaced by the environment variable VAR before
// parsing ($$ stands for a literal $); an unset variable is an error.
// Secrets can also come from files (password_file, token_file); they are
// never logged.
//
// The package reads files and the environment, nothing else: it starts no
// component. Package pipeline turns a Config into running stages.
package config
