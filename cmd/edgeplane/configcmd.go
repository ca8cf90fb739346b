package main

import (
	"fmt"
	"io"

	"github.com/edgeplane/edgeplane/config"
)

// cmdConfig is `edgeplane config -c FILE`: the effective configuration,
// every default filled in, secrets redacted.
func cmdConfig(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("config", stderr)
	file := fs.String("c", "", "config file or directory (required)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *file == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: edgeplane config -c FILE")
		return errUsage
	}
	c, err := config.Load(*file)
	if err != nil {
		return err
	}
	out, err := c.Effective()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "# effective configuration of %s: every option, defaults filled in\n", *file)
	_, err = stdout.Write(out)
	return err
}
