//go:build e2e

package sink_test

import (
	"testing"
	"time"
)

// TestOutage60s is TestOutage5s with a one-minute outage (make e2e).
func TestOutage60s(t *testing.T) { testOutage(t, 60*time.Second) }

// TestTopicRecreated45s is TestTopicRecreated with the topic gone for
// 45 s, long enough for the retry delay to reach NakMax (make e2e).
func TestTopicRecreated45s(t *testing.T) { testTopicRecreated(t, 45*time.Second) }
