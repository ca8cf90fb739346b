//go:build e2e

package sink_test

import "testing"

// TestCrash10 kills the writer+forwarder process ten times (make e2e).
func TestCrash10(t *testing.T) { testCrash(t, 10) }
