package pipeline_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/pipeline"
)

var srvClient = &http.Client{Timeout: 5 * time.Second}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// scrapeHandler returns the gateway's /metrics text.
func scrapeHandler(t *testing.T, g *pipeline.Gateway) string {
	t.Helper()
	rec := httptest.NewRecorder()
	g.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// airSourceYAML is the sources entry several gateway tests share: air
// readings {"ts": ms, "pm25": v} on city/<district>/air/<id> through the
// embedded listener, keyed <district>/<id>.
const airSourceYAML = `  - name: air
    mqtt:
      broker: embedded
      topics: ["city/+/air/+"]
      qos: 1
    decode:
      topic_pattern: "city/{district}/{type}/{id}"
      key: "{district}/{id}"
      time_path: ts
      time_unit: ms
      fields: [{name: pm25}]
`
