package sink_test

import (
	"testing"

	"github.com/edgeplane/edgeplane/sink"
)

// The produce buffer follows the memory budget within its bounds.
func TestKafkaBufferFor(t *testing.T) {
	for _, c := range []struct {
		limit int64
		want  int
	}{
		{32 << 20, 8 << 20},   // floor: a forwarder batch of full frames
		{128 << 20, 8 << 20},  // a sixteenth
		{256 << 20, 16 << 20}, // the default memory_limit
		{512 << 20, 32 << 20},
		{4 << 30, sink.DefaultKafkaMaxBufferedBytes}, // ceiling
	} {
		if got := sink.KafkaBufferFor(c.limit); got != c.want {
			t.Errorf("KafkaBufferFor(%d MiB) = %d MiB, want %d MiB", c.limit>>20, got>>20, c.want>>20)
		}
	}
}

// The forwarder's batch follows the memory budget within its bounds.
func TestForwarderBatchFor(t *testing.T) {
	for _, c := range []struct {
		limit int64
		want  int
	}{
		{32 << 20, 4},
		{256 << 20, 8}, // the default memory_limit
		{512 << 20, 16},
		{1 << 30, 32},
		{8 << 30, 32},
	} {
		if got := sink.ForwarderBatchFor(c.limit); got != c.want {
			t.Errorf("ForwarderBatchFor(%d MiB) = %d, want %d", c.limit>>20, got, c.want)
		}
	}
}
