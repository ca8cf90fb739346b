package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/decode"
	"github.com/edgeplane/edgeplane/operators"
	"github.com/edgeplane/edgeplane/sink"
)

// window returns base with pipelines[0]'s window replaced (line 16).
func window(w string) string {
	return strings.Replace(base, "    window: {size: 10s}", "    window: "+w, 1)
}

// TestValidateRefusesWhatRunRefused: each configuration `validate` used
// to accept and `run` then refused is refused by validate, at the file,
// line and column of the option, with the stage's own message.
func TestValidateRefusesWhatRunRefused(t *testing.T) {
	for _, tc := range []struct {
		name, src, at, msg string
	}{
		{"hopping offset", window("{type: hopping, size: 10s, advance: 2s, offset: 5s}"),
			"bad.yaml:16:53: pipelines[0].window.offset", "5s, want -2s < offset < 2s (the advance)"},
		{"hopping panes", window("{type: hopping, size: 10s, advance: 3ms}"),
			"bad.yaml:16:40: pipelines[0].window.advance", "size 10s and advance 3ms make panes of gcd = 1ms, 10000 panes per window, want at most 4096"},
		{"hopping day by ms", window("{type: hopping, size: 24h, advance: 1ms}"),
			"bad.yaml:16:40: pipelines[0].window.advance", "86400000 panes per window"},
		{"size 0", window("{size: 0s}"),
			"bad.yaml:16:14: pipelines[0].window.size", "0s, want > 0"},
		{"advance on tumbling", window("{size: 10s, advance: 2s}"),
			"bad.yaml:16:25: pipelines[0].window.advance", "tumbling windows have no advance"},
		{"gap on hopping", window("{type: hopping, size: 10s, advance: 5s, gap: 1s}"),
			"bad.yaml:16:53: pipelines[0].window.gap", "only session windows have a gap"},
		{"size on session", window("{type: session, gap: 10s, size: 1m}"),
			"bad.yaml:16:39: pipelines[0].window.size", "session windows have no size"},
		{"lateness under processing time", window("{size: 10s, time: processing, allowed_lateness: 5s}"),
			"bad.yaml:16:43: pipelines[0].window.allowed_lateness", "nothing is late"},
		{"sub-millisecond", window("{size: 1500us}"),
			"bad.yaml:16:14: pipelines[0].window.size", "1.5ms is not a whole number of milliseconds"},
		{"http and websocket on one port",
			strings.NewReplacer("  id: gw1", "  id: gw1\n  http_listen: 127.0.0.1:8088", "pipelines:",
				"  - name: ws\n    type: websocket\n    websocket: {listen: \"0.0.0.0:8088\", path: /in/}\n    decode: {fields: [{name: v}]}\npipelines:").Replace(base),
			"bad.yaml:16:17: sources[1].websocket.listen", "0.0.0.0:8088 collides with gateway.http_listen (127.0.0.1:8088, bad.yaml:3)"},
		{"unknown source", strings.Replace(base, "from: [s1]", "from: [s11]", 1),
			"bad.yaml:15:12: pipelines[0].from[0]", `no source named "s11" (did you mean "s1"?)`},
		{"unknown field", window("{size: 10s}\n    fields: [vv]"),
			"bad.yaml:17:14: pipelines[0].fields[0]", `no source in from has a field "vv"`},
		{"placeholder id", strings.Replace(base, "id: gw1", "id: gw-change-me", 1),
			"bad.yaml:2:3: gateway.id", "packaged placeholder"},
		{"record compression on json", window("{size: 10s}\n    to: {compression: zstd}"),
			"bad.yaml:17:10: pipelines[0].to.compression", "only the compact format takes a compression"},
		{"key id on compact", window("{size: 10s}\n    to: {format: compact, key: id}"),
			"bad.yaml:17:27: pipelines[0].to.key", "key: id needs format: json"},
		{"unknown key", window("{size: 10s}\n    to: {key: window}"),
			"bad.yaml:17:15: pipelines[0].to.key", "series"},
		{"explicit zero keep-alive", strings.Replace(base, "topics: [\"city/#\"]", "topics: [\"city/#\"]\n      keep_alive: 0", 1),
			"bad.yaml:10:7: sources[0].mqtt.keep_alive", "0 is not a valid keep_alive (leave the option out for its default)"},
		{"connections without shared subscriptions", strings.Replace(base, "topics: [\"city/#\"]", "topics: [\"city/#\"]\n      connections: 2", 1),
			"bad.yaml:9:16: sources[0].mqtt.topics[0]", "with 2 connections every filter must be $share/group/"},
		{"hold acks on qos 0", strings.Replace(base, "topics: [\"city/#\"]", "topics: [\"city/#\"]\n      qos: 0\n      hold_acks: true", 1),
			"bad.yaml:11:7: sources[0].mqtt.hold_acks", "needs qos 1"},
		{"series scope without idle timeout", window("{size: 10s, idle_timeout: 0s}"),
			"bad.yaml:16:25: pipelines[0].window.idle_timeout", "a series that stops sending would never close its last window"},
		{"held acks in series scope", strings.Replace(base, "topics: [\"city/#\"]", "topics: [\"city/#\"]\n      hold_acks: true", 1),
			"bad.yaml:10:7: sources[0].mqtt.hold_acks", "set window.watermark: pipeline on pipelines fed by a hold_acks source"},
		{"ring capacity", window("{size: 10s}\n    ring: {capacity: -4}"),
			"bad.yaml:17:12: pipelines[0].ring.capacity", "-4 out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.at + ": " + tc.msg
			var got []string
			for _, p := range problems(t, tc.src, nil) {
				got = append(got, p.String())
				if strings.HasPrefix(p.String(), tc.at+": ") && strings.Contains(p.String(), tc.msg) {
					return
				}
			}
			t.Fatalf("want a problem like\n  %s\ngot\n  %s", want, strings.Join(got, "\n  "))
		})
	}
}

// TestWatermarkScope: series is the default, and takes no in-band
// markers; pipeline is kept when asked for.
func TestWatermarkScope(t *testing.T) {
	for _, tc := range []struct {
		w      string
		scope  operators.WatermarkScope
		inBand bool
	}{
		{"{size: 10s}", operators.SeriesScope, false},
		{"{size: 10s, watermark: series}", operators.SeriesScope, false},
		{"{size: 10s, watermark: pipeline}", operators.PipelineScope, true},
	} {
		c, err := config.LoadBytes("w.yaml", []byte(window(tc.w)), noEnv)
		if err != nil {
			t.Fatalf("%s: %v", tc.w, err)
		}
		cc, err := config.Compile(c)
		if err != nil {
			t.Fatalf("%s: %v", tc.w, err)
		}
		oc := cc.Pipelines[0].Operators
		if oc.Watermark != tc.scope || oc.InBandWatermarks != tc.inBand {
			t.Errorf("%s: scope %v, in-band markers %v; want %v, %v", tc.w, oc.Watermark, oc.InBandWatermarks, tc.scope, tc.inBand)
		}
	}
}

// TestWriterOptions: to.key and the window definition reach the writer;
// key defaults to series.
func TestWriterOptions(t *testing.T) {
	compile := func(src string) *config.PipelinePlan {
		t.Helper()
		c, err := config.LoadBytes("b.yaml", []byte(src), noEnv)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := config.Compile(c)
		if err != nil {
			t.Fatal(err)
		}
		return plan.Pipelines[0]
	}
	pp := compile(base)
	if pp.Writer.Key != sink.KeySeries || pp.Writer.WindowSpec != pp.Operators.Spec() || !strings.Contains(pp.Writer.WindowSpec, "size=10000") {
		t.Fatalf("default: key %v, window spec %q (operators %q)", pp.Writer.Key, pp.Writer.WindowSpec, pp.Operators.Spec())
	}
	if pp := compile(window("{size: 10s}\n    to: {key: id}")); pp.Writer.Key != sink.KeyID {
		t.Fatalf("key: id compiled to %v", pp.Writer.Key)
	}
	if pp4 := compile(window("{size: 4s}")); pp4.Writer.WindowSpec == pp.Writer.WindowSpec {
		t.Fatalf("sizes 10s and 4s share the window spec %q", pp.Writer.WindowSpec)
	}
}

// TestAbsentIsNotZero: an option left out takes its default; an option
// written as zero keeps its zero (and is validated as such).
func TestAbsentIsNotZero(t *testing.T) {
	c, err := config.LoadBytes("b.yaml", []byte(window("{size: 10s, out_of_orderness: 0s}")), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := config.Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	if oc := plan.Pipelines[0].Operators; oc.OutOfOrder != 0 || oc.Size != 10_000 {
		t.Fatalf("out_of_orderness: 0s compiled to B = %d ms (size %d)", oc.OutOfOrder, oc.Size)
	}
	c, err = config.LoadBytes("b.yaml", []byte(base), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if plan, err = config.Compile(c); err != nil || plan.Pipelines[0].Operators.OutOfOrder != config.DefaultOutOfOrderness.Milliseconds() {
		t.Fatalf("absent out_of_orderness: %v %+v", err, plan)
	}
	// max_time_skew: 0 disables the check; left out it is 24h.
	c, err = config.LoadBytes("b.yaml", []byte(strings.Replace(base, "time_path: ts", "time_path: ts\n      max_time_skew: 0", 1)), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if plan, err = config.Compile(c); err != nil || plan.Sources[0].Decode.MaxSkew >= 0 {
		t.Fatalf("max_time_skew: 0 compiled to %v (%v)", plan.Sources[0].Decode.MaxSkew, err)
	}
}

// TestMaxFuture: decode.max_future left out is 5m; 0 (or off) disables
// it; a negative one is refused by decode.Options.Validate at its YAML
// path.
func TestMaxFuture(t *testing.T) {
	compile := func(opt string) (decode.Options, error) {
		t.Helper()
		src := base
		if opt != "" {
			src = strings.Replace(base, "time_path: ts", "time_path: ts\n      "+opt, 1)
		}
		c, err := config.LoadBytes("b.yaml", []byte(src), noEnv)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := config.Compile(c)
		if err != nil {
			return decode.Options{}, err
		}
		return plan.Sources[0].Decode, nil
	}
	if o, err := compile(""); err != nil || o.MaxFuture != 5*time.Minute {
		t.Fatalf("absent max_future compiled to %v (%v), want 5m", o.MaxFuture, err)
	}
	for _, opt := range []string{"max_future: 0", "max_future: 0s", "max_future: off"} {
		if o, err := compile(opt); err != nil || o.MaxFuture != decode.NoMaxFuture {
			t.Fatalf("%s compiled to %v (%v), want decode.NoMaxFuture", opt, o.MaxFuture, err)
		}
	}
	if o, err := compile("max_future: 1h"); err != nil || o.MaxFuture != time.Hour {
		t.Fatalf("max_future: 1h compiled to %v (%v)", o.MaxFuture, err)
	}
	ps := problems(t, strings.Replace(base, "time_path: ts", "time_path: ts\n      max_future: -5m", 1), nil)
	if len(ps) != 1 || ps[0].Path != "sources[0].decode.max_future" || !strings.Contains(ps[0].Msg, "negative") {
		t.Fatalf("max_future: -5m: problems %v", ps)
	}
}

// TestDataDir: a data_dir through a file, or under a directory this user
// cannot write, is refused without creating anything.
func TestDataDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(base, "  id: gw1", "  id: gw1\n  data_dir: "+filepath.Join(file, "data"), 1)
	ps := problems(t, src, nil)
	if len(ps) != 1 || ps[0].Path != "gateway.data_dir" || !strings.Contains(ps[0].Msg, "is not a directory") {
		t.Fatalf("problems %v", ps)
	}
	ok := strings.Replace(base, "  id: gw1", "  id: gw1\n  data_dir: "+filepath.Join(dir, "a", "b"), 1)
	if _, err := config.LoadBytes("ok.yaml", []byte(ok), noEnv); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); !os.IsNotExist(err) {
		t.Fatalf("validate created the data_dir: %v", err)
	}
}

// TestEffectiveRoundTrip: `edgeplane config` prints every option with its
// default; loading that output gives the same configuration (secrets,
// which it redacts, aside), and the secrets do not appear in it. A
// listener password or hash printed redacted is refused (it would be a
// known password): the round trip sets them again.
// setAgainHash is a bcrypt hash the round trip puts back for a redacted one.
const setAgainHash = `"$2a$10$.oWgkFSWCpwPB0zSAESWFujg14wL443kioBevtPAqsqga/oeOOSIC"`

func TestEffectiveRoundTrip(t *testing.T) {
	t.Setenv("EDGEPLANE_WS_TOKEN", "S3CRET-ws-token")
	t.Setenv("EDGEPLANE_HTTP_TOKEN", "example-http-secret")
	t.Setenv("EDGEPLANE_DATA_DIR", t.TempDir())
	files, _ := filepath.Glob("../configs/*.yaml")
	for _, f := range files {
		c, err := config.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.Effective()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), "S3CRET") {
			t.Fatalf("%s: a secret in the effective config:\n%s", f, out)
		}
		if _, err := config.LoadBytes("effective.yaml", out, noEnv); len(c.NATS.Auth.Users) > 0 &&
			(err == nil || !strings.Contains(err.Error(), "set the real one")) {
			t.Fatalf("%s: the effective config's redacted listener password was not refused: %v", f, err)
		}
		again := strings.NewReplacer("password: "+config.Redacted, "password: set-again",
			"password_hash: "+config.Redacted, "password_hash: "+setAgainHash).Replace(string(out))
		back, err := config.LoadBytes("effective.yaml", []byte(again), noEnv)
		if err != nil {
			t.Fatalf("%s: the effective config does not load: %v\n%s", f, err, out)
		}
		out2, err := back.Effective()
		if err != nil {
			t.Fatal(err)
		}
		if string(out2) != string(out) {
			t.Fatalf("%s: effective config differs after a round trip:\n%s\n---\n%s", f, out, out2)
		}
	}
}

// TestReadmeConfigs: every YAML block of the README is a configuration
// that validates.
func TestReadmeConfigs(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(b), "```yaml\n")[1:]
	if len(blocks) < 2 {
		t.Fatalf("only %d YAML blocks in the README", len(blocks))
	}
	for i, blk := range blocks {
		end := strings.Index(blk, "```")
		if end < 0 {
			t.Fatalf("block %d is not closed", i)
		}
		if _, err := config.LoadBytes(fmt.Sprintf("README.md block %d", i+1), []byte(blk[:end]), noEnv); err != nil {
			t.Errorf("README YAML block %d does not validate:\n%v\n%s", i+1, err, blk[:end])
		}
	}
}
