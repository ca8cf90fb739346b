package bench

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/edgeplane/edgeplane/internal/version"
)

// Environment describes the host and the build a report was taken on.
type Environment struct {
	Host       string            `json:"host"`
	OS         string            `json:"os"`
	Arch       string            `json:"arch"`
	Kernel     string            `json:"kernel,omitempty"`
	CPUModel   string            `json:"cpu_model,omitempty"`
	CPUs       int               `json:"cpus"`
	GOMAXPROCS int               `json:"gomaxprocs"`
	MemTotal   uint64            `json:"mem_total_bytes,omitempty"`
	GoVersion  string            `json:"go_version"`
	Edgebench  string            `json:"edgebench"`
	Modules    map[string]string `json:"modules,omitempty"`
}

// keyModules are the dependencies whose versions a report names.
var keyModules = []string{
	"github.com/eclipse/paho.mqtt.golang", "github.com/nats-io/nats-server/v2", "github.com/twmb/franz-go",
	"github.com/twmb/franz-go/pkg/kfake", "github.com/gorilla/websocket", "github.com/valyala/fastjson",
}

// ReadEnvironment describes this host and binary.
func ReadEnvironment() Environment {
	e := Environment{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion: runtime.Version(), Edgebench: version.String("edgebench"), Modules: map[string]string{}}
	e.Host, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		e.Kernel = strings.TrimSpace(string(b))
	}
	e.CPUModel = procField("/proc/cpuinfo", "model name")
	if mt := procField("/proc/meminfo", "MemTotal"); mt != "" {
		kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(mt), " kB"), 10, 64)
		e.MemTotal = kb * 1024
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			for _, k := range keyModules {
				if d.Path == k {
					e.Modules[d.Path] = d.Version
				}
			}
		}
	}
	return e
}

// procField returns the value of the first "key: value" line of a /proc
// file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
