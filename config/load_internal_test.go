package config

import (
	"strings"
	"testing"
)

func TestSafelyTurnsAPanicIntoAnError(t *testing.T) {
	err := safely(func() error { panic("nil map") })
	if err == nil || !strings.HasPrefix(err.Error(), yamlPanic) || !strings.Contains(err.Error(), "nil map") {
		t.Fatalf("err = %v", err)
	}
	if err := safely(func() error { return nil }); err != nil {
		t.Fatalf("err = %v", err)
	}
}
