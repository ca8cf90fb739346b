package decode

import (
	"strings"
	"testing"
)

func TestTopicPattern(t *testing.T) {
	f := func(pattern, topic string, want ...string) {
		t.Helper()
		p, err := ParseTopicPattern(pattern)
		if err != nil {
			t.Fatalf("ParseTopicPattern(%q): %v", pattern, err)
		}
		vals, ok := p.Match(topic, nil)
		if want == nil {
			if ok {
				t.Fatalf("%q matched %q: %q", pattern, topic, vals)
			}
			return
		}
		if want[0] == "" && len(want) == 1 {
			want = want[:0]
		}
		if !ok || strings.Join(vals, "|") != strings.Join(want, "|") || len(vals) != len(want) {
			t.Fatalf("%q.Match(%q) = %q, %v; want %q", pattern, topic, vals, ok, want)
		}
	}
	f("city/{district}/{type}/{id}", "city/d7/air/s-123", "d7", "air", "s-123")
	f("city/{district}/{type}/{id}", "city/d7/air", nil...)
	f("city/{district}/{type}/{id}", "city/d7/air/s-123/x", nil...)
	f("city/{district}/{type}/{id}", "city//air/s-123", nil...)
	f("city/{district}/{type}/{id}", "town/d7/air/s-123", nil...)
	f("city/{district}/{type}/{id}", "city/d7/air/", nil...)
	f("v3/{app}@{tenant}/devices/{dev}/up", "v3/app1@ttn/devices/dev1/up", "app1", "ttn", "dev1")
	f("v3/{app}@{tenant}/devices/{dev}/up", "v3/app1@ttn@x/devices/dev1/up", "app1", "ttn@x", "dev1")
	f("v3/{app}@{tenant}/devices/{dev}/up", "v3/app1/devices/dev1/up", nil...)
	f("v3/{app}@{tenant}/devices/{dev}/up", "v3/@ttn/devices/dev1/up", nil...)
	f("s/id-{id}.json", "s/id-7.json", "7")
	f("s/id-{id}.json", "s/id-7.jso", nil...)
	f("s/+/{id}", "s/x/1", "1")
	f("s/+/{id}", "s/x", nil...)
	f("s/{id}/#", "s/1", "1")
	f("s/{id}/#", "s/1/a/b", "1")
	f("#", "anything/at/all", "")
	f("a/b", "a/b", "")
	f("a/b", "a/b/", nil...)
	f("a//b", "a//b", "")

	bad := func(pattern string) {
		t.Helper()
		if _, err := ParseTopicPattern(pattern); err == nil {
			t.Fatalf("ParseTopicPattern(%q) succeeded", pattern)
		}
	}
	bad("")
	bad("a/#/b")
	bad("a/b+")
	bad("a/{x}{y}")
	bad("a/{x}/{x}")
	bad("a/{x")
	bad("a/x}")
	bad("a/{}")
	bad("a/{x-y}")
}

func TestTopicKeyTemplate(t *testing.T) {
	p, err := ParseTopicPattern("city/{district}/{type}/{id}")
	if err != nil {
		t.Fatal(err)
	}
	f := func(tmpl, want string) {
		t.Helper()
		kt, err := ParseKeyTemplate(tmpl, p)
		if err != nil {
			t.Fatalf("ParseKeyTemplate(%q): %v", tmpl, err)
		}
		vals, ok := p.Match("city/d7/air/s-123", nil)
		if !ok {
			t.Fatal("no match")
		}
		if got := string(kt.Append([]byte("x:"), vals)); got != "x:"+want {
			t.Fatalf("key %q, want %q", got, "x:"+want)
		}
	}
	f("{district}/{type}/{id}", "d7/air/s-123")
	f("{id}", "s-123")
	f("{district}-{id}.v1", "d7-s-123.v1")
	f("const", "const")
	for _, bad := range []string{"", "{nope}", "{id", "id}", "{}"} {
		if _, err := ParseKeyTemplate(bad, p); err == nil {
			t.Fatalf("ParseKeyTemplate(%q) succeeded", bad)
		}
	}
	if _, err := ParseKeyTemplate("{id}", nil); err == nil {
		t.Fatal("template without pattern succeeded")
	}
}

func TestTopicMatchFilter(t *testing.T) {
	f := func(filter, topic string, want bool) {
		t.Helper()
		if got := MatchFilter(filter, topic); got != want {
			t.Fatalf("MatchFilter(%q, %q) = %v, want %v", filter, topic, got, want)
		}
	}
	f("a/b", "a/b", true)
	f("a/b", "a/c", false)
	f("a/b", "a/b/c", false)
	f("a/b/c", "a/b", false)
	f("a/+", "a/b", true)
	f("a/+", "a/", true)
	f("a/+", "a", false)
	f("a/+", "a/b/c", false)
	f("+/+", "/x", true)
	f("+", "a", true)
	f("+", "a/b", false)
	f("#", "a/b/c", true)
	f("#", "/", true)
	f("a/#", "a", true)
	f("a/#", "a/b/c", true)
	f("a/#", "ab", false)
	f("a/+/c/#", "a/b/c", true)
	f("a/+/c/#", "a/b/d", false)
	f("zigbee2mqtt/#", "zigbee2mqtt/room/lamp", true)
	f("#", "$SYS/x", false)
	f("+/x", "$SYS/x", false)
	f("$SYS/#", "$SYS/x", true)
	f("a/#/b", "a/x/b", false)
	f("a/b#", "a/b#", false)
	f("a/b+", "a/b+", false)
	f("", "a", false)
	f("a", "", false)
}
