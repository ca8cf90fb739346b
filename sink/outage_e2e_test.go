//go:build e2e

package sink_test

import (
	"testing"
	"time"
)

// TestOutage60s is TestOutage5s with a one-minute outage (make e2e).
func TestOutage60s(t *testing.T) { testOutage(t, 60*time.Second) }
