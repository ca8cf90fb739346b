package sink_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/natsd"
	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/sink"
)

// The crash child runs when this test binary is re-executed with
// crashChildEnv set: an embedded NATS server on the data dir the parent
// names, a Writer and a Forwarder to the parent's kfake cluster. It writes
// aggregates of run <run> as fast as the buffer takes them and prints
// "ACK <id>" for each one after the Flush that stored it returned. In
// drain mode it writes nothing and prints "DRAINED" once the buffer is
// empty. The parent kills it with SIGKILL at a random point.
const (
	crashChildEnv = "EDGEPLANE_SINK_CRASH_CHILD"
	crashDirEnv   = "EDGEPLANE_SINK_CRASH_DIR"
	crashKafkaEnv = "EDGEPLANE_SINK_CRASH_KAFKA"
	crashRunEnv   = "EDGEPLANE_SINK_CRASH_RUN" // run number, or "drain"
	crashTopic    = "agg.crash"
)

// TestCrashChild is the child's body; without crashChildEnv it is skipped.
func TestCrashChild(t *testing.T) {
	if os.Getenv(crashChildEnv) != "1" {
		t.Skip("crash child: run by TestCrash")
	}
	if err := crashChild(); err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

func crashChild() error {
	ctx := context.Background()
	ns, err := natsd.Start(natsd.Options{StoreDir: os.Getenv(crashDirEnv)})
	if err != nil {
		return err
	}
	nc, err := ns.Connect("crash-child")
	if err != nil {
		return err
	}
	buf, err := sink.OpenBuffer(ctx, nc, sink.BufferOptions{})
	if err != nil {
		return err
	}
	kc, err := sink.NewKafkaClient(sink.KafkaOptions{Brokers: strings.Split(os.Getenv(crashKafkaEnv), ","), AutoCreateTopics: true})
	if err != nil {
		return err
	}
	fw, err := sink.NewForwarder(ctx, buf, kc, sink.ForwarderOptions{AckWait: time.Second, DeliveryTimeout: 2 * time.Second})
	if err != nil {
		return err
	}
	go fw.Run(ctx) //nolint:errcheck // runs until the process is killed
	out := bufio.NewWriter(os.Stdout)
	run := os.Getenv(crashRunEnv)
	if run == "drain" {
		poll := time.NewTicker(20 * time.Millisecond)
		defer poll.Stop()
		for range poll.C {
			st, err := buf.State(ctx)
			if err != nil {
				return err
			}
			if st.Messages == 0 {
				fmt.Fprintln(out, "DRAINED")
				return out.Flush()
			}
		}
	}
	const nSeries = 50
	keys := record.NewSeriesTable(nSeries)
	for i := 0; i < nSeries; i++ {
		if _, err := keys.Intern([]byte(fmt.Sprintf("crash/r%s/s-%02d", run, i))); err != nil {
			return err
		}
	}
	fields := []string{"v"}
	var ws sink.WriterStats
	w := sink.NewWriter(buf, sink.WriterOptions{Gateway: "gw1", Pipeline: "crash", Topic: crashTopic, Columns: sink.ColSum}, keys, fields, &ws)
	var pending []string
	for i := 0; ; i++ {
		a := record.Aggregate{Series: uint32(i % nSeries), Start: int64(i), End: int64(i) + 1, Count: 1, Sum: float64(i)}
		if err := w.Add(ctx, &a, time.Now().UnixMilli()); err != nil {
			return err
		}
		who := sink.Identity{Gateway: "gw1", Pipeline: "crash", Series: keys.Key(a.Series), Field: "v"}
		pending = append(pending, string(sink.AppendID(nil, &who, a.Start)))
		if i%20 == 19 {
			if err := w.Flush(ctx); err != nil {
				return err
			}
			for _, id := range pending {
				fmt.Fprintln(out, "ACK", id)
			}
			pending = pending[:0]
			if err := out.Flush(); err != nil {
				return err
			}
		}
	}
}

// crashChildCmd starts the child for run.
func crashChildCmd(t *testing.T, dir string, brokers []string, run string, stderr *bytes.Buffer) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"=1", crashDirEnv+"="+dir,
		crashKafkaEnv+"="+strings.Join(brokers, ","), crashRunEnv+"="+run)
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, bufio.NewScanner(stdout)
}

// TestCrash2 kills the writer+forwarder process twice under load.
func TestCrash2(t *testing.T) { testCrash(t, 2) }

// testCrash runs the child kills times on one data dir, each time
// SIGKILLing it after a random number of acknowledged aggregates, then
// once more to drain, and checks that every aggregate a child reported as
// acknowledged by JetStream is in Kafka.
func testCrash(t *testing.T, kills int) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	dir := t.TempDir()
	kfk := testenv.Kafka(t)
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	acked := map[string]bool{}
	var stderr bytes.Buffer
	for run := 0; run < kills; run++ {
		// Kill after 100–4000 acknowledged aggregates, or mid-startup.
		target := 100 + r.IntN(3900)
		if run%4 == 3 {
			target = 0
		}
		cmd, sc := crashChildCmd(t, dir, kfk.ListenAddrs(), strconv.Itoa(run), &stderr)
		n := 0
		for n < target && sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "ACK "); ok {
				acked[id] = true
				n++
			}
		}
		if n < target {
			t.Fatalf("run %d: child ended after %d acks: %v\n%s", run, n, sc.Err(), stderr.String())
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// Acks already printed before the kill landed count too.
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "ACK "); ok {
				acked[id] = true
				n++
			}
		}
		_ = cmd.Wait()
		t.Logf("run %d: killed after %d acknowledged aggregates", run, n)
	}
	cmd, sc := crashChildCmd(t, dir, kfk.ListenAddrs(), "drain", &stderr)
	drained := false
	for sc.Scan() {
		if sc.Text() == "DRAINED" {
			drained = true
		}
	}
	if err := cmd.Wait(); err != nil || !drained {
		t.Fatalf("drain child: %v\n%s", err, stderr.String())
	}
	got := map[string]bool{}
	read := 0
	testenv.ConsumeUntil(t, kfk.ListenAddrs(), crashTopic, 60*time.Second, func(recs []*kgo.Record) bool {
		for _, rec := range recs[read:] {
			got[aggID(t, rec)] = true
		}
		read = len(recs)
		for id := range acked {
			if !got[id] {
				return false
			}
		}
		return true
	})
	t.Logf("%d acknowledged aggregates over %d kills, all in Kafka (%d distinct ids there)", len(acked), kills, len(got))
}
