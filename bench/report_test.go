package bench

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenReport is a fixed two-step report with every section filled.
func goldenReport(t *testing.T) *Report {
	t.Helper()
	sc, err := Builtin("standard")
	if err != nil {
		t.Fatal(err)
	}
	rep := &Report{
		Scenario: sc,
		Env: Environment{Host: "gw-test", OS: "linux", Arch: "arm64", Kernel: "6.1.0", CPUModel: "Cortex-A76", CPUs: 4,
			GOMAXPROCS: 4, MemTotal: 8 << 30, GoVersion: "go1.26.0", Edgebench: "edgebench v1.0.0",
			Modules: map[string]string{"github.com/eclipse/paho.mqtt.golang": "v1.5.1"}},
		Target: TargetInfo{Mode: ModeSubprocess, MQTT: "tcp://127.0.0.1:1883", Kafka: []string{"127.0.0.1:9092"},
			Topic: "edgebench.aggregates", Processes: []string{"edgeplane"}},
		Started: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC),
		Seconds: 62,
		Baseline: &BaselineResult{ReceiveRate: 99800, QoS: 0, Connections: 2, TopicPrefix: baselinePrefix,
			Steps: []BaselineStep{{Offered: 50000, Published: 150000, Received: 150000, Seconds: 3, PublishRate: 50000, ReceiveRate: 50000, Lossless: true},
				{Offered: 100000, Published: 299400, Received: 299400, Seconds: 3, PublishRate: 99800, ReceiveRate: 99800, Lossless: true}},
			Flood: BaselineStep{Published: 400000, Received: 350000, Seconds: 3, PublishRate: 133333, ReceiveRate: 116667}},
		Notes: []string{"a note"},
	}
	ok := PhaseReport{Name: "step 1", Offered: 10000, Achieved: 9990, CountedRate: 19000, Seconds: 10, Messages: 99900, Frames: 99900, Readings: 200000,
		Reconciliation: Reconciliation{SentMessages: 99900, Sent: 200000, Counted: 199500, IntendedLate: 200, IntendedMalformed: 200,
			Duplicates: 100, RejectedMessages: 100, Rejected: 200, Late: 200, Explained: 400, Windows: 95000, WindowsExact: 95000},
		Latency: Latency{Raw: LatencyStats{Samples: 12000, P50: 1512.4, P90: 1903, P99: 2010, Max: 2200},
			Processing: LatencyStats{Samples: 12000, P50: 12.1, P90: 20, P99: 48.5, Max: 90}, Tail: 1500},
		Gateway:   Counters{Rejected: 100, RejectedByReason: map[string]uint64{"malformed": 100}, Late: 200},
		Resources: []ProcReport{{Role: "edgeplane", UsageDelta: UsageDelta{CPUSeconds: 3, PeakRSS: 60 << 20, RSS: 55 << 20, CPUPercent: 30, CPUPerMilli: 15}}},
		Runtime:   &RuntimeStats{Goroutines: 40, GCCount: 12, GCPauseMax: 0.4},
		Settled:   true, SettleSeconds: 4.2, Sustained: true, Verdict: "sustained"}
	bad := ok
	bad.Name, bad.Offered, bad.Achieved = "step 2", 20000, 19100
	bad.Reconciliation.Counted = 190000
	bad.Reconciliation.Unexplained = 9500
	bad.Reconciliation.WindowsExact, bad.Reconciliation.WindowsShort = 94000, 1000
	bad.Reconciliation.Deviations = []WindowDeviation{{Series: "d1/air/s-0", Start: 1795224690000, Expected: 8, Counted: 4}}
	bad.Sustained = false
	bad.judge(sc)
	rep.Phases = []PhaseReport{ok, bad}
	rep.Headline.Limit, rep.Headline.LimitDetail = LimitEdgeplane, "10,000 msg/s was sustained and 20,000 msg/s was not"
	rep.Chart = "standard.svg"
	seconds := rep.Seconds
	rep.finish()
	rep.Seconds = seconds
	return rep
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestReport -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; got:\n%s", name, got)
	}
}

func TestReportMarkdownGolden(t *testing.T) {
	rep := goldenReport(t)
	if !strings.Contains(rep.Phases[1].Verdict, "9500 readings lost without explanation") || rep.Phases[1].Sustained {
		t.Fatalf("verdict %q", rep.Phases[1].Verdict)
	}
	if rep.Headline.Phase != "step 1" || rep.Headline.RatioToBase < 0.1 {
		t.Fatalf("headline %+v", rep.Headline)
	}
	var b bytes.Buffer
	if err := rep.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.golden.md", b.Bytes())
}

func TestReportJSONRoundTrip(t *testing.T) {
	rep := goldenReport(t)
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Headline != rep.Headline || len(back.Phases) != 2 || back.Phases[1].Reconciliation.Unexplained != 9500 {
		t.Errorf("round trip lost figures: %+v", back.Headline)
	}
	var chart bytes.Buffer
	if err := rep.WriteChart(&chart); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(chart.Bytes(), []byte("<svg")) {
		t.Error("chart is not SVG")
	}
}

// TestReportSideBySide: with the bare subscriber measured as a process at
// the rates of edgeplane's steps, the report puts the two side by side,
// per million messages.
func TestReportSideBySide(t *testing.T) {
	rep := goldenReport(t)
	rep.Baseline.Process = true
	rep.Baseline.Steps[0].Offered = 10000
	rep.Baseline.Steps[0].Resources = &UsageDelta{CPUSeconds: 0.8, CPUPerMilli: 8.31, PeakRSS: 13 << 20}
	var b bytes.Buffer
	if err := rep.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	// step 1: 3 CPU s over 99,900 messages = 30.03 s per million.
	want := "| 10,000 | 30.03 | 8.31 | 60.0 MiB (55.0 MiB) | 13.0 MiB (–) | – |"
	if !strings.Contains(b.String(), want) || !strings.Contains(b.String(), "encoding/json") {
		t.Fatalf("no side-by-side row %q in:\n%s", want, b.String())
	}
}
