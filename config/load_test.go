package config_test

import (
	"strings"
	"testing"
)

func TestUnknownOptionSuggests(t *testing.T) {
	for _, c := range []struct{ old, new, want string }{
		{"window: {size: 10s}", "window: {size: 10s, out_of_order: 5s}",
			`bad.yaml:16:25: pipelines[0].window.out_of_order: unknown option "out_of_order" (did you mean "out_of_orderness"?)`},
		{"  id: gw1", "  id: gw1\n  logLevel: debug",
			`bad.yaml:3:3: gateway.logLevel: unknown option "logLevel" (did you mean "log_level"?)`},
		{"sources:", "source:\n  - {}\nsources:",
			`bad.yaml:5:1: source: unknown option "source" (did you mean "sources"?)`},
		{"  id: gw1", "  id: gw1\n  colour: blue",
			`bad.yaml:3:3: gateway.colour: unknown option "colour" (known: id, data_dir, http_listen, http_token, http_token_file, log_level, shutdown_timeout, telemetry_topic, telemetry_interval, pprof, memory_limit, gc_percent)`},
		{"  id: gw1", "  id: gw1\n  " + strings.Repeat("x", 100) + ": 1",
			`bad.yaml:3:3: gateway.` + strings.Repeat("x", 100) + `: unknown option "` + strings.Repeat("x", 60) + `…" (known: id, data_dir, http_listen, http_token, http_token_file, log_level, shutdown_timeout, telemetry_topic, telemetry_interval, pprof, memory_limit, gc_percent)`},
	} {
		ps := problems(t, strings.Replace(base, c.old, c.new, 1), nil)
		if len(ps) != 1 || ps[0].String() != c.want {
			t.Errorf("problems %v\nwant %s", ps, c.want)
		}
	}
}
