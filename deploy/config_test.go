package deploy_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/edgeplane/edgeplane/config"
)

// unitDirectives returns the key=value lines of a systemd unit, in order
// (a key may repeat).
func unitDirectives(t *testing.T, file string) map[string][]string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("%s: not a directive: %q", file, line)
			continue
		}
		out[k] = append(out[k], v)
	}
	return out
}

// TestPackagedConfig checks that the config the .deb, the tarball and the
// container install validates, and that the unit, the config and the
// package agree on paths: the config the unit runs is the packaged
// conffile, and gateway.data_dir is the unit's StateDirectory.
func TestPackagedConfig(t *testing.T) {
	// As shipped, validate refuses the three placeholders the operator must
	// set first, and nothing else. (data_dir is pointed at a temporary
	// directory: /var/lib is the package's, not this test's.)
	raw, err := os.ReadFile("arm64/edgeplane.yaml")
	if err != nil {
		t.Fatal(err)
	}
	shipped := strings.Replace(string(raw), "data_dir: /var/lib/edgeplane", "data_dir: "+t.TempDir(), 1)
	_, err = config.LoadBytes("arm64/edgeplane.yaml", []byte(shipped), os.LookupEnv)
	var ce *config.Error
	if !errors.As(err, &ce) || len(ce.Problems) != 3 || ce.Problems[0].Path != "gateway.id" || ce.Problems[1].Path != "gateway.http_token" || ce.Problems[2].Path != "kafka.brokers[0]" {
		t.Fatalf("the packaged config: want the three placeholder problems, got %v", err)
	}
	edited := strings.NewReplacer("id: gw-change-me", "id: gw-d7-01", "kafka.example.internal:9092", "10.20.0.5:9092",
		"${EDGEPLANE_HTTP_TOKEN:-change-me}", "s3cret-http-token").Replace(shipped)
	_, err = config.LoadBytes("arm64/edgeplane.yaml", []byte(edited), os.LookupEnv)
	if err != nil {
		t.Fatalf("the packaged config, placeholders set, does not validate:\n%v", err)
	}
	u := unitDirectives(t, "arm64/edgeplane.service")
	one := func(k string) string {
		t.Helper()
		if len(u[k]) != 1 {
			t.Fatalf("edgeplane.service: want one %s=, have %q", k, u[k])
		}
		return u[k][0]
	}
	const confPath = "/etc/edgeplane/edgeplane.yaml"
	if got := one("ExecStart"); got != "/usr/bin/edgeplane run -c "+confPath {
		t.Errorf("ExecStart=%s", got)
	}
	if got := "/var/lib/" + one("StateDirectory"); !strings.Contains(string(raw), "data_dir: "+got+" ") {
		t.Errorf("the packaged gateway.data_dir is not the unit's StateDirectory %s", got)
	}
	for _, k := range []string{"ProtectSystem", "ProtectHome", "NoNewPrivileges", "PrivateTmp", "RestrictAddressFamilies",
		"SystemCallFilter", "MemoryMax", "Restart", "ExecReload", "DynamicUser"} {
		if len(u[k]) == 0 {
			t.Errorf("edgeplane.service lacks %s=", k)
		}
	}
	// One number: the unit's MemoryMax is config.MemoryMax of the packaged
	// gateway.memory_limit, which the gateway sets as the Go soft limit;
	// a GOMEMLIMIT in the unit would override it.
	if strings.Contains(strings.Join(u["Environment"], " "), "GOMEMLIMIT=") {
		t.Error("edgeplane.service sets GOMEMLIMIT, which overrides gateway.memory_limit")
	}
	if strings.Contains(strings.Join(u["Environment"], " "), "GOGC=") {
		t.Error("edgeplane.service sets GOGC, which overrides gateway.gc_percent")
	}
	c, _ := config.LoadBytes("arm64/edgeplane.yaml", []byte(edited), os.LookupEnv)
	if !strings.Contains(string(raw), "memory_limit: ") {
		t.Error("the packaged config does not write gateway.memory_limit")
	}
	mm := one("MemoryMax")
	var max int64
	if _, err := fmt.Sscanf(mm, "%dM", &max); err != nil || !strings.HasSuffix(mm, "M") {
		t.Fatalf("MemoryMax=%s, want a size in M", mm)
	}
	if want := config.MemoryMax(int64(c.Gateway.MemoryLimit)); max<<20 != want {
		t.Errorf("MemoryMax=%s, want gateway.memory_limit %d MiB + %d MiB headroom = %dM", mm,
			c.Gateway.MemoryLimit>>20, config.MemoryMaxHeadroom>>20, want>>20)
	}

	var pkg struct {
		Contents []struct {
			Src  string `yaml:"src"`
			Dst  string `yaml:"dst"`
			Type string `yaml:"type"`
		} `yaml:"contents"`
	}
	b, err := os.ReadFile("arm64/nfpm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &pkg); err != nil {
		t.Fatalf("nfpm.yaml: %v", err)
	}
	dst := map[string]string{}
	for _, c := range pkg.Contents {
		dst[c.Dst] = c.Type
		if strings.HasPrefix(c.Src, "./") && !strings.HasPrefix(c.Src, "./dist/") { // dist/: staged by build-deb.sh
			if _, err := os.Stat(path.Join("..", c.Src)); err != nil {
				t.Errorf("nfpm.yaml packages %s: %v", c.Src, err)
			}
		}
		if strings.HasPrefix(c.Dst, "/etc/") && c.Type != "config|noreplace" {
			t.Errorf("nfpm.yaml: %s is under /etc but not a config|noreplace conffile", c.Dst)
		}
	}
	for _, want := range []string{"/usr/bin/edgeplane", confPath, "/lib/systemd/system/edgeplane.service"} {
		if _, ok := dst[want]; !ok {
			t.Errorf("nfpm.yaml does not install %s", want)
		}
	}
}

// TestEnvFileAssignments: every assignment in edgeplane.env, commented
// out or not, is a bare NAME=value with nothing after it. systemd's
// EnvironmentFile (and docker --env-file) take the rest of the line as the
// value, "#" included, so an inline comment would become part of the
// value once the line is uncommented (GOGC="100 # …" is ignored by the
// runtime, GOMEMLIMIT="400MiB # …" stops it at start).
func TestEnvFileAssignments(t *testing.T) {
	raw, err := os.ReadFile("arm64/edgeplane.env")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, line := range strings.Split(string(raw), "\n") {
		body := strings.TrimSpace(strings.TrimPrefix(line, "#"))
		name, value, ok := strings.Cut(body, "=")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			continue // prose
		}
		n++
		if strings.ContainsAny(value, "# \t") {
			t.Errorf("edgeplane.env:%d: %q: a comment or space after the value would become part of it", i+1, line)
		}
	}
	if n < 5 {
		t.Errorf("edgeplane.env: %d assignments found, want the documented ones", n)
	}
}
