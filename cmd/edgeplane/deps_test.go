package main

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// notInGateway matches the packages the gateway binary must not link:
// bench's reporting (the gonum/plot chart, its fonts, its PDF, SVG, EPS
// and LaTeX back ends) and bench itself. The demo's simulator is
// bench/sim, which imports none of them.
var notInGateway = regexp.MustCompile(`(?i)plot|font|pdf|svg|latex|^github\.com/edgeplane/edgeplane/bench$`)

// TestGatewayLinksNoReporting: `go list -deps ./cmd/edgeplane` names no
// plotting, font or PDF package (they cost the binary ~6 MiB).
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
	if !strings.Contains(string(out), "github.com/edgeplane/edgeplane/bench/sim") {
		t.Fatalf("go list -deps lists no bench/sim; the demo's simulator moved? %d packages", len(deps))
	}
	for _, p := range deps {
		if notInGateway.MatchString(p) {
			t.Errorf("cmd/edgeplane links %s", p)
		}
	}
}
