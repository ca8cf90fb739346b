package config

import (
	"reflect"
	"testing"
)

func TestSuggest(t *testing.T) {
	window := knownKeys(typeOf[Window]())
	for _, c := range []struct {
		name       string
		candidates []string
		want       string
	}{
		{"out_of_order", window, "out_of_orderness"},
		{"outoforderness", window, "out_of_orderness"},
		{"OutOfOrderness", window, "out_of_orderness"},
		{"allowed-lateness", window, "allowed_lateness"},
		{"sise", window, "size"},
		{"szie", window, "size"}, // a swap costs 1
		{"max_open_window", window, "max_open_windows"},
		{"emitt", window, "emit"},
		{"colour", window, ""},
		{"id", []string{"to", "ring"}, ""},
		{"qos", []string{"dos", "qoss"}, "dos"}, // a tie: the first
		{"aggregatez", knownKeys(typeOf[Pipeline]()), "aggregates"},
		{"gatway", knownKeys(typeOf[Config]()), "gateway"},
		{"brokers", []string{"brokers"}, ""}, // not unknown
		{"", window, ""},
		{"x", nil, ""},
	} {
		if got := suggest(c.name, c.candidates); got != c.want {
			t.Errorf("suggest(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestOSADistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"kitten", "sitting", 3},
		{"ab", "ba", 1}, {"ca", "abc", 3}, {"size", "szie", 1}, {"été", "ete", 2},
	} {
		if got := osaDistance([]rune(c.a), []rune(c.b), 10); got != c.want {
			t.Errorf("osaDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := osaDistance([]rune(c.a), []rune(c.b), 0); got != min(c.want, 1) {
			t.Errorf("osaDistance(%q, %q, limit 0) = %d, want %d", c.a, c.b, got, min(c.want, 1))
		}
	}
}

func typeOf[T any]() reflect.Type { return reflect.TypeOf((*T)(nil)).Elem() }
