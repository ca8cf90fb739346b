package poll

import (
	"testing"
	"time"
)

// Until calls f every poll until it returns nil, failing the test with
// f's last error once timeout has passed.
func Until(t testing.TB, timeout, poll time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = f(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", timeout, err)
		}
		time.Sleep(poll)
	}
}
