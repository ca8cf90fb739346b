package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/pipeline"
)

// Target modes: where the system under test runs.
const (
	// ModeEmbedded runs edgeplane in this process (pipeline.New/Start),
	// its embedded NATS with the MQTT listener as the broker, and kfake
	// as Kafka. Process figures then include the generator.
	ModeEmbedded = "embedded"
	// ModeSubprocess runs edgeplane as a child process built from
	// ./cmd/edgeplane (or a given binary), with kfake in this process.
	ModeSubprocess = "subprocess"
	// ModeExternal targets addresses given by the user.
	ModeExternal = "external"
)

// StackOptions say how to reach or start the system under test.
type StackOptions struct {
	// Mode is embedded (default), subprocess or external.
	Mode string
	// EdgeplaneBin is the binary for subprocess mode; default: built
	// with "go build ./cmd/edgeplane" in ModuleDir (default ".") into a
	// temp dir.
	EdgeplaneBin, ModuleDir string
	// External mode: the MQTT broker URL, Kafka seed brokers, the
	// gateway's /metrics URL (optional: without it no counters explain
	// losses), its WebSocket URL (optional), and the pids of the gateway
	// and broker processes on this host (optional: resource figures).
	Broker       string
	Kafka        []string
	MetricsURL   string
	WSURL        string
	EdgeplanePid int
	BrokerPid    int
	// WSConnections > 0 makes an embedded or subprocess gateway take its
	// readings from a WebSocket source (see WSEndpoint) sized for that
	// many connections, instead of MQTT; WSToken is its bearer token
	// (empty: a random one). Stack.WSURL and Stack.WSToken say where and
	// how to connect.
	WSConnections int
	WSToken       string
	// Mosquitto makes an embedded or subprocess target take its readings
	// from a Mosquitto broker edgebench starts (BrokerMosquitto), not
	// from the gateway's embedded listener.
	Mosquitto bool
	// Logger receives the embedded gateway's logs (default: discarded);
	// LogOutput a subprocess's stderr (default: a file in its dir).
	Logger    *slog.Logger
	LogOutput io.Writer
}

// RoleProc is a process the report measures, by its role.
type RoleProc struct {
	Role string // "edgeplane", "broker"
	Proc Proc
	// InProcess is set when the process is this one: its figures
	// include the generator and the Kafka consumer.
	InProcess bool
}

// Stack is a running system under test. Its methods are safe for
// concurrent use.
type Stack struct {
	Mode    string
	mqttURL string
	wsURL   string
	wsToken string
	kafka   []string
	topic   string
	procs   []RoleProc
	notes   []string

	dir    string
	kc     *kfake.Cluster
	gw     *pipeline.Gateway
	cmd    *exec.Cmd
	exited chan struct{}
	// broker is the Mosquitto process of a BrokerMosquitto run.
	broker       *exec.Cmd
	brokerExited chan struct{}
	// brokerURL is where the gateway's MQTT sources subscribe: set for
	// Mosquitto, "" for the embedded listener.
	brokerURL string
	// httpURL is a subprocess gateway's HTTP listener (pprof on).
	httpURL string
	scraper *MetricsScraper
	outage  atomic.Bool
	logPath string
}

// StartStack brings up (or connects to) the system under test for the
// sensor set and pipeline spec; qos is the publishers' QoS.
func StartStack(ctx context.Context, o StackOptions, ss *SensorSet, p PipelineSpec, qos int) (st *Stack, err error) {
	p.defaults()
	if o.Mode == "" {
		o.Mode = ModeEmbedded
	}
	st = &Stack{Mode: o.Mode, topic: p.Topic}
	defer func() {
		if err != nil {
			_ = st.Close(context.Background())
		}
	}()
	switch o.Mode {
	case ModeExternal:
		if o.Broker == "" || len(o.Kafka) == 0 {
			return nil, errors.New("bench: external target needs --broker and --kafka")
		}
		st.mqttURL, st.kafka, st.wsURL = o.Broker, o.Kafka, o.WSURL
		if o.MetricsURL != "" {
			st.scraper = &MetricsScraper{URL: o.MetricsURL}
		} else {
			st.notes = append(st.notes, "no --metrics URL: gateway counters are unknown, every missing reading is unexplained")
		}
		if o.EdgeplanePid > 0 {
			st.procs = append(st.procs, RoleProc{Role: "edgeplane", Proc: PidProc{o.EdgeplanePid}})
		}
		if o.BrokerPid > 0 {
			st.procs = append(st.procs, RoleProc{Role: "broker", Proc: PidProc{o.BrokerPid}})
		}
		return st, nil
	case ModeEmbedded, ModeSubprocess:
	default:
		return nil, fmt.Errorf("bench: unknown target mode %q (want embedded, subprocess or external)", o.Mode)
	}
	st.dir, err = os.MkdirTemp("", "edgebench-")
	if err != nil {
		return nil, err
	}
	st.kc, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1))
	if err != nil {
		return nil, fmt.Errorf("bench: start kfake: %w", err)
	}
	st.kafka = st.kc.ListenAddrs()
	st.installOutage()
	if o.Mosquitto && o.WSConnections <= 0 {
		if st.brokerURL, err = st.startMosquitto(ctx); err != nil {
			return nil, err
		}
	}
	if o.Mode == ModeEmbedded {
		// The WebSocket port is picked before the gateway listens on it;
		// another process may take it in between: try a few.
		for try := 0; ; try++ {
			err = st.startEmbedded(ctx, o, ss, p, qos)
			if err == nil || o.WSConnections <= 0 || try == 2 || !errors.Is(err, syscall.EADDRINUSE) {
				return st, err
			}
		}
	}
	return st, st.startSubprocess(ctx, o, ss, p, qos)
}

// wsEndpoint picks the WebSocket source's address and token when o asks
// for one, and records its URL and token; nil otherwise.
func (st *Stack) wsEndpoint(o StackOptions) (*WSEndpoint, error) {
	if o.WSConnections <= 0 {
		return nil, nil
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	tok := o.WSToken
	if tok == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		tok = hex.EncodeToString(b[:])
	}
	w := &WSEndpoint{Listen: addr, Token: tok, MaxConns: o.WSConnections + 16}
	st.wsURL, st.wsToken = w.URL(), tok
	return w, nil
}

func (st *Stack) startEmbedded(ctx context.Context, o StackOptions, ss *SensorSet, p PipelineSpec, qos int) error {
	ws, err := st.wsEndpoint(o)
	if err != nil {
		return err
	}
	yml := GatewayConfigFitted(ss, p, qos, GatewayAddrs{DataDir: st.dir, MQTTListen: "127.0.0.1:0", HTTPListen: "off", Kafka: st.kafka, WS: ws, Broker: st.brokerURL})
	cfg, err := config.LoadBytes("edgebench.yaml", yml, os.LookupEnv)
	if err != nil {
		return fmt.Errorf("bench: gateway config: %w", err)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	g, err := pipeline.New(cfg, pipeline.Options{Logger: log, KafkaBrokers: st.kafka})
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := g.Start(sctx); err != nil {
		return err
	}
	st.gw = g
	st.mqttURL = g.MQTTAddr()
	if st.brokerURL != "" {
		st.mqttURL = st.brokerURL
	}
	st.procs = append([]RoleProc{{Role: "edgeplane", Proc: SelfProc{}, InProcess: true}}, st.procs...)
	st.notes = append(st.notes, "edgeplane runs in the benchmark's process: its CPU and memory figures include the generator and the Kafka consumer (use --target subprocess for separate figures)")
	return waitReady(ctx, func() bool { return g.Ready().Ready })
}

func (st *Stack) startSubprocess(ctx context.Context, o StackOptions, ss *SensorSet, p PipelineSpec, qos int) error {
	bin := o.EdgeplaneBin
	if bin == "" {
		dir := o.ModuleDir
		if dir == "" {
			dir = "."
		}
		bin = filepath.Join(st.dir, "edgeplane")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/edgeplane")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("bench: go build ./cmd/edgeplane in %s: %w\n%s", dir, err, out)
		}
	}
	mqttAddr, err := freeAddr()
	if err != nil {
		return err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return err
	}
	ws, err := st.wsEndpoint(o)
	if err != nil {
		return err
	}
	yml := GatewayConfigFitted(ss, p, qos, GatewayAddrs{DataDir: filepath.Join(st.dir, "data"), MQTTListen: mqttAddr, HTTPListen: httpAddr, Kafka: st.kafka, WS: ws, Broker: st.brokerURL})
	cfgPath := filepath.Join(st.dir, "edgeplane.yaml")
	if err := os.WriteFile(cfgPath, yml, 0o600); err != nil {
		return err
	}
	st.cmd = exec.Command(bin, "run", "-c", cfgPath)
	if o.LogOutput != nil {
		st.cmd.Stderr = o.LogOutput
	} else {
		st.logPath = filepath.Join(st.dir, "edgeplane.log")
		f, err := os.Create(st.logPath)
		if err != nil {
			return err
		}
		defer f.Close()
		st.cmd.Stderr = f
	}
	if err := st.cmd.Start(); err != nil {
		return fmt.Errorf("bench: start %s: %w", bin, err)
	}
	st.exited = make(chan struct{})
	go func() { _ = st.cmd.Wait(); close(st.exited) }()
	st.mqttURL = "tcp://" + mqttAddr
	st.scraper = &MetricsScraper{URL: "http://" + httpAddr + "/metrics"}
	st.httpURL = "http://" + httpAddr
	st.procs = append([]RoleProc{{Role: "edgeplane", Proc: PidProc{st.cmd.Process.Pid}}}, st.procs...)
	if st.brokerURL != "" {
		st.mqttURL = st.brokerURL
	} else if ws == nil {
		st.notes = append(st.notes, "the MQTT broker is edgeplane's embedded NATS listener: the edgeplane process figures include the broker")
	}
	ready := "http://" + httpAddr + "/readyz"
	cl := &http.Client{Timeout: time.Second}
	err = waitReady(ctx, func() bool {
		select {
		case <-st.exited:
			return false
		default:
		}
		resp, err := cl.Get(ready)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if err != nil {
		return fmt.Errorf("bench: edgeplane subprocess not ready: %w%s", err, st.logTail())
	}
	return nil
}

// waitReady polls ready every 100 ms for up to 60 s.
func waitReady(ctx context.Context, ready func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for !ready() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func (st *Stack) logTail() string {
	if st.logPath == "" {
		return ""
	}
	b, _ := os.ReadFile(st.logPath)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "\nedgeplane log tail:\n" + string(b)
}

// installOutage makes kfake fail every Produce while the outage is on,
// with a retriable error, as a broker without enough replicas does.
func (st *Stack) installOutage() {
	kc := st.kc
	kc.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		if !st.outage.Load() {
			return nil, nil, false
		}
		req := kr.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			t := kmsg.NewProduceResponseTopic()
			t.Topic, t.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				p := kmsg.NewProduceResponseTopicPartition()
				p.Partition = rp.Partition
				p.ErrorCode = kerr.NotEnoughReplicas.Code
				t.Partitions = append(t.Partitions, p)
			}
			resp.Topics = append(resp.Topics, t)
		}
		return resp, nil, true
	})
}

// SetKafkaOutage starts or ends a Kafka outage: every Produce fails.
// Only the in-process Kafka (embedded and subprocess modes) supports it.
func (st *Stack) SetKafkaOutage(on bool) error {
	if st.kc == nil {
		return errors.New("bench: a Kafka outage needs the in-process Kafka (embedded or subprocess target)")
	}
	st.outage.Store(on)
	return nil
}

// MQTTURL is the broker the generators publish to.
func (st *Stack) MQTTURL() string { return st.mqttURL }

// HTTPURL returns the gateway's HTTP listener with /debug/pprof on, for a
// subprocess target; "" otherwise.
func (st *Stack) HTTPURL() string { return st.httpURL }

// WSURL is the gateway's WebSocket endpoint, "" when it has none.
func (st *Stack) WSURL() string { return st.wsURL }

// WSToken is the bearer token of the WebSocket endpoint the stack
// started, "" when it started none.
func (st *Stack) WSToken() string { return st.wsToken }

// Kafka are the seed brokers to read the aggregates from.
func (st *Stack) Kafka() []string { return st.kafka }

// Topic is the aggregates topic.
func (st *Stack) Topic() string { return st.topic }

// Procs are the processes whose resources the report measures.
func (st *Stack) Procs() []RoleProc { return st.procs }

// Notes are caveats about how the figures were taken.
func (st *Stack) Notes() []string { return st.notes }

// HasCounters reports whether Counters reads the gateway's counters.
func (st *Stack) HasCounters() bool { return st.gw != nil || st.scraper != nil }

// Counters reads the gateway's counters: Snapshot in-process, /metrics
// otherwise; zero when neither is available.
func (st *Stack) Counters(ctx context.Context) (Counters, error) {
	switch {
	case st.gw != nil:
		s := st.gw.Snapshot()
		return Counters{Messages: s.Messages, Readings: s.Readings, Rejected: s.Rejected, Late: s.Late,
			RingDropped: s.RingDropped, SeriesRefused: s.SeriesRefused, OperatorsRefused: s.OperatorsRefused,
			ClosedRefused: s.ClosedRefused, WindowsFired: s.WindowsFired,
			AggregatesBuffered: s.AggregatesBuffered, KafkaRecords: s.KafkaRecords, KafkaErrors: s.KafkaErrors,
			BufferMessages: s.BufferMessages, BufferBytes: s.BufferBytes}, nil
	case st.scraper != nil:
		return st.scraper.Counters(ctx)
	}
	return Counters{}, nil
}

// Close stops what StartStack started: the gateway gracefully (its
// subprocess with SIGTERM), then Kafka, then the temp dir.
func (st *Stack) Close(ctx context.Context) error {
	var err error
	if st.gw != nil {
		err = st.gw.Stop(ctx)
		st.gw = nil
	}
	if st.cmd != nil && st.cmd.Process != nil {
		if !terminate(st.cmd, st.exited, 30*time.Second) {
			err = errors.New("bench: edgeplane subprocess did not stop within 30s; killed")
		}
		st.cmd = nil
	}
	st.stopMosquitto()
	if st.kc != nil {
		st.kc.Close()
		st.kc = nil
	}
	if st.dir != "" && !strings.Contains(os.Getenv("EDGEBENCH_KEEP"), "1") {
		_ = os.RemoveAll(st.dir)
		st.dir = ""
	}
	return err
}

// terminate stops cmd with SIGTERM, and kills it if it has not exited
// (exited closed) within grace; it reports whether it stopped by itself.
func terminate(cmd *exec.Cmd, exited <-chan struct{}, grace time.Duration) bool {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		return true
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-exited
		return false
	}
}
