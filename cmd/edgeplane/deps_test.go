package main

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// notInGateway matches the packages the gateway binary must not link:
// bench's reporting (the gonum/plot chart, its fonts, its PDF, SVG, EPS
// and LaTeX back ends), bench itself, and the demo's simulator (bench/sim)
// and in-process Kafka (kfake), which only the demo build (-tags demo)
// links.
var notInGateway = regexp.MustCompile(`(?i)plot|font|pdf|svg|latex|^github\.com/edgeplane/edgeplane/bench(/|$)|kfake`)

// TestGatewayLinksNoReporting: `go list -deps ./cmd/edgeplane` names no
// plotting, font or PDF package (they cost the binary ~6 MiB), and neither
// the demo's simulator nor kfake (2.8 MiB).
func TestGatewayLinksNoReporting(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if !strings.Contains(string(out), "github.com/edgeplane/edgeplane/pipeline") {
		t.Fatalf("go list -deps lists no pipeline package: %d packages", len(deps))
	}
	for _, p := range deps {
		if notInGateway.MatchString(p) {
			t.Errorf("cmd/edgeplane links %s", p)
		}
	}
}
