package bench

import (
	"strings"
	"testing"
)

func TestBuiltinScenarios(t *testing.T) {
	for _, n := range BuiltinNames() {
		sc, err := Builtin(n)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if sc.Name != n || sc.Description == "" {
			t.Errorf("%s: name %q, description %q", n, sc.Name, sc.Description)
		}
	}
	sc, _ := Builtin("standard")
	if sc.Sensors.Series != 10000 || sc.QoS != 0 || sc.Pipeline.Window.D().Seconds() != 1 || sc.Steps == nil || !sc.Baseline.Enabled {
		t.Errorf("standard: %+v", sc)
	}
	if sc, _ := Builtin("ws-fanin"); sc.Connections != 1000 || sc.Transport != TransportWS {
		t.Errorf("ws-fanin: %+v", sc)
	}
}

func TestParseScenarioErrors(t *testing.T) {
	f := func(y, want string) {
		t.Helper()
		_, err := ParseScenario([]byte(y), "t.yaml")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", y, err, want)
		}
	}
	f("rate: 10\nbogus: 1\n", "bogus")
	f("qos: 2\n", "qos 2")
	f("sensors: {types: [air, volcano]}\n", `unknown profile "volcano"`)
	f("faults: {late: 0.7, malformed: 0.7}\n", "sum to more than 1")
	f("faults: {out_of_order: 0.1, disorder: 5s}\npipeline: {out_of_orderness: 1s}\n", "must stay below")
	f("duration: 10s\noutage: {at: 8s, for: 5s}\n", "outage")
	f("sensors: {format: xml}\n", `format "xml"`)
	// Every problem at once.
	_, err := ParseScenario([]byte("qos: 3\ntransport: carrier-pigeon\n"), "t.yaml")
	if err == nil || !strings.Contains(err.Error(), "2 problem(s)") {
		t.Errorf("want both problems: %v", err)
	}
}

func TestScenarioFile(t *testing.T) {
	sc, err := LookupScenario("testdata/scenario-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if sc.Name != "district-meters" || sc.Sensors.Format != FormatSenML || sc.Pipeline.Window.D().Seconds() != 10 ||
		sc.Faults.Disorder.D().Seconds() != 1 || sc.Faults.LateBy.D().Seconds() != 14 || !sc.Baseline.Enabled {
		t.Errorf("%+v", sc)
	}
	ss, err := NewSensorSet(sc.Sensors)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss.Types()) != 2 || ss.Series[0].SkewMs == ss.Series[1].SkewMs {
		t.Errorf("types %d, skews %d %d", len(ss.Types()), ss.Series[0].SkewMs, ss.Series[1].SkewMs)
	}
}
