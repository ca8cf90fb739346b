package bench

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestPeersScenarioThroughMosquitto is the peers scenario, shortened: a
// Mosquitto broker edgebench starts, the gateway's paho source on it, the
// bare subscriber on the same broker, and every reading accounted for;
// the broker is measured as its own process and the search says why it
// stopped. It needs Debian's mosquitto; EDGEPLANE_REQUIRE_MOSQUITTO=1
// (the e2e suite) turns a missing one into a failure.
func TestPeersScenarioThroughMosquitto(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the embedded stack and Mosquitto for ~15 s")
	}
	if _, err := mosquittoBin(); err != nil {
		if os.Getenv("EDGEPLANE_REQUIRE_MOSQUITTO") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	sc, err := Builtin("peers")
	if err != nil {
		t.Fatal(err)
	}
	sc.Warmup = 0
	// Short phases: the last windows of each close by idle_timeout, which
	// the processing latency does not discount; this test is about the
	// broker, not latency.
	sc.MaxProcessingP99 = Duration(5 * time.Second)
	sc.Steps.Rates = []float64{2_000, 4_000}
	sc.Steps.Start = 2_000
	sc.Sensors.Series = 200
	sc.Baseline = BaselineSpec{Enabled: true, Duration: Duration(time.Second), Start: 2_000, MaxSteps: 1, Flood: Duration(time.Second)}
	if err := (Overrides{Duration: 3 * time.Second, QoS: -1}).Apply(sc); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var prog strings.Builder
	rep, err := Run(ctx, sc, RunOptions{Progress: &prog})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(prog.String())
	if !strings.HasPrefix(rep.Target.MQTT, "tcp://127.0.0.1:") || !strings.Contains(strings.Join(rep.Target.Notes, " "), "Mosquitto") {
		t.Fatalf("target %+v: not the Mosquitto broker", rep.Target)
	}
	if len(rep.Phases) != 2 {
		t.Fatalf("%d phases, want the 2 rates", len(rep.Phases))
	}
	for _, ph := range rep.Phases {
		if ph.Reconciliation.Unexplained != 0 || !ph.Sustained {
			t.Fatalf("%s: %s (%+v)", ph.Name, ph.Verdict, ph.Reconciliation)
		}
		roles := map[string]bool{}
		for _, p := range ph.Resources {
			roles[p.Role] = p.PeakRSS > 0
		}
		if !roles["broker"] || !roles["edgeplane"] {
			t.Errorf("%s: resources %+v, want the broker and edgeplane measured", ph.Name, ph.Resources)
		}
	}
	if rep.Baseline == nil || rep.Baseline.ReceiveRate <= 0 {
		t.Errorf("baseline %+v", rep.Baseline)
	}
	if rep.Headline.Limit != LimitStepCap || rep.Headline.BrokerPeakRSS == 0 {
		t.Errorf("headline %+v: want the step cap (every rate sustained) and the broker's RSS", rep.Headline)
	}
}
