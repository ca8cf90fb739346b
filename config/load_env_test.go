package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/edgeplane/edgeplane/config"
)

const secret = "KafkaPw-S3CRET-111"

// loadEnv loads src with env and returns its problems, joined.
func loadEnv(t *testing.T, src string, env map[string]string) string {
	t.Helper()
	_, err := config.LoadBytes("env.yaml", []byte(src), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v (%T), want a *config.Error", err, err)
	}
	return err.Error()
}

func TestProblemsNeverPrintSecrets(t *testing.T) {
	env := map[string]string{"KAFKA_PASSWORD": secret, "SPACED": "  " + secret + "  ", "QUOTED": `a"b\` + secret,
		"MULTI": secret + "\n  more", "QOS": "2", "GW": "gw with space",
		"ESCAPED": `S3\x43RET\t\"x\"`, "LONG": strings.Repeat("S3CRET", 20)}
	for _, c := range []struct {
		name, old, new string
		want           string // the whole error, minus the file name
	}{
		{"wrong type", "window: {size: 10s}", "window: {size: 10s}\n    max_series: ${KAFKA_PASSWORD}",
			`17:17: cannot use "${KAFKA_PASSWORD}" as int (option Config.Pipelines)`},
		{"wrong type, trimmed", "window: {size: 10s}", "window: {size: 10s}\n    max_series: ${SPACED}",
			`17:17: cannot use "${SPACED}" as int (option Config.Pipelines)`},
		{"wrong type, quoted", "window: {size: 10s}", "window: {size: 10s}\n    max_series: '${QUOTED}'",
			`17:17: cannot use "${QUOTED}" as int (option Config.Pipelines)`},
		{"wrong type, escaped in quotes", "window: {size: 10s}", "window: {size: 10s}\n    max_series: \"${ESCAPED}\"",
			`17:17: cannot use "${ESCAPED}" as int (option Config.Pipelines)`},
		{"long key", "gateway:", "gateway:\n  ${LONG}: 1",
			`2:3: gateway.${LONG}: unknown option "${LONG}" (known: id, data_dir, http_listen, http_token, http_token_file, log_level, shutdown_timeout, telemetry_topic, telemetry_interval, pprof, memory_limit, gc_percent)`},
		{"wrong type, inside a value", "window: {size: 10s}", "window: {size: 10s}\n    max_series: x${KAFKA_PASSWORD}y",
			`17:17: cannot use "x${KAFKA_PASSWORD}y" as int (option Config.Pipelines)`},
		{"bad duration", "size: 10s", "size: ${KAFKA_PASSWORD}",
			`16:20: pipelines[0].window.size: cannot parse duration "${KAFKA_PASSWORD}" (want e.g. 10s, 1m, 250ms)`},
		{"as a key", "gateway:", "gateway:\n  ${KAFKA_PASSWORD}: 1",
			`2:3: gateway.${KAFKA_PASSWORD}: unknown option "${KAFKA_PASSWORD}" (known: id, data_dir, http_listen, http_token, http_token_file, log_level, shutdown_timeout, telemetry_topic, telemetry_interval, pprof, memory_limit, gc_percent)`},
		{"validation", "id: gw1", "id: ${GW}",
			`2:3: gateway.id: "${GW}" is not a valid id (letters, digits, '-', '_', '.'; at most 64)`},
		{"short value, its own line", "      topics: [\"city/#\"]", "      topics: [\"city/#\"]\n      qos: ${QOS}",
			`10:7: sources[0].mqtt.qos: qos must be 0 or 1, not ${QOS}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(base, c.old, c.new, 1)
			got := loadEnv(t, src, env)
			if strings.Contains(got, "S3CRET") || got != "env.yaml:"+c.want {
				t.Fatalf("error:\n%s\nwant:\nenv.yaml:%s", got, c.want)
			}
		})
	}
}

// TestSubstitutionKeepsPositions: a value of several lines does not move
// the lines after it, and a problem inside a value is at its ${.
func TestSubstitutionKeepsPositions(t *testing.T) {
	src := strings.Replace(base, "id: gw1", `id: "${MULTI}"`, 1)
	src = strings.Replace(src, "      topics: [\"city/#\"]", "      topics: [\"city/#\"]\n      qos: 2", 1)
	got := loadEnv(t, src, map[string]string{"MULTI": "gw\n\n\n1"})
	want := `env.yaml:2:3: gateway.id: "${MULTI}" is not a valid id (letters, digits, '-', '_', '.'; at most 64)` + "\n" +
		"env.yaml:10:7: sources[0].mqtt.qos: qos must be 0 or 1, not 2"
	if got != want {
		t.Fatalf("error:\n%s\nwant:\n%s", got, want)
	}
	src = "gateway: {id: gw1, log_level: ${A}}\nkafka: {brokers: [${B}]}\n"
	got = loadEnv(t, src, map[string]string{"A": "[[[", "B": "x:1"})
	if !strings.HasPrefix(got, "env.yaml:1:") {
		t.Fatalf("a syntax error in a value is not on its line: %s", got)
	}
}

func TestSubstitutionTooLarge(t *testing.T) {
	src := strings.Replace(base, "id: gw1", "id: ${BIG}${BIG}${BIG}", 1)
	got := loadEnv(t, src, map[string]string{"BIG": strings.Repeat("x", 400<<10)})
	want := "env.yaml:2:19: with ${BIG} substituted the config exceeds 1 MiB, the limit"
	if got != want {
		t.Fatalf("error:\n%s\nwant:\n%s", got, want)
	}
}
