//go:build !demo

package main

import (
	"errors"
	"io"
)

// errNoDemo is what `edgeplane demo` says in the gateway binary, which is
// built without the demo's in-process Kafka (kfake) and sensor simulator:
// they cost a device 2.8 MiB of binary and 1.4 MB of resident memory for
// nothing.
var errNoDemo = errors.New("this edgeplane binary is the gateway alone, without the demo's in-process Kafka and simulated sensors; " +
	"run `make run`, or build the demo with `go build -tags demo -o bin/edgeplane-demo ./cmd/edgeplane` and run `bin/edgeplane-demo demo`")

func cmdDemo(_ []string, _, _ io.Writer) error { return errNoDemo }
