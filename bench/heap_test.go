package bench

import (
	"testing"

	"github.com/google/pprof/profile"
)

// TestChargeHeap: an allocation is charged to the nearest named package
// on its stack, through runtime and standard-library frames and inlined
// calls; a stack naming none is "other".
func TestChargeHeap(t *testing.T) {
	fn := func(name string) *profile.Function { return &profile.Function{Name: name} }
	loc := func(names ...string) *profile.Location {
		l := &profile.Location{}
		for _, n := range names {
			l.Line = append(l.Line, profile.Line{Function: fn(n)})
		}
		return l
	}
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "inuse_objects"}, {Type: "inuse_space"}},
		Sample: []*profile.Sample{
			{Value: []int64{1, 1000}, Location: []*profile.Location{loc("runtime.mallocgc"), loc("bytes.growSlice"), loc("github.com/eclipse/paho.mqtt.golang.(*client).startIncomingComms")}},
			{Value: []int64{1, 300}, Location: []*profile.Location{loc("runtime.makeslice"), loc("github.com/edgeplane/edgeplane/operators.newTimerHeap", "github.com/edgeplane/edgeplane/operators.NewShard")}},
			{Value: []int64{1, 200}, Location: []*profile.Location{loc("github.com/edgeplane/edgeplane/operators.NewShard"), loc("github.com/edgeplane/edgeplane/pipeline.New")}},
			{Value: []int64{1, 50}, Location: []*profile.Location{loc("runtime.malg"), loc("runtime.newproc1")}},
		},
	}
	got, err := chargeHeap(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []HeapShare{{"ingest: paho MQTT client", 1000}, {"operators: window state", 500}, {"other (runtime, standard library)", 50}}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	}
}
