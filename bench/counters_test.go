package bench

import (
	"strings"
	"testing"
)

// TestParseMetricsRuntimeMemory: the Go runtime's memory gauges are read
// from the exposition as they are.
func TestParseMetricsRuntimeMemory(t *testing.T) {
	c, err := ParseMetrics(strings.NewReader(`# HELP go_memstats_heap_inuse_bytes x
# TYPE go_memstats_heap_inuse_bytes gauge
go_memstats_heap_inuse_bytes 25976832
go_memstats_heap_idle_bytes 27369472
go_memstats_heap_released_bytes 20000000
go_memstats_stack_inuse_bytes 1179648
go_memstats_sys_bytes 60463368
edgeplane_ingest_messages_total{source="air"} 7
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.GoHeapInuse != 25976832 || c.GoHeapIdle != 27369472 || c.GoHeapReleased != 20000000 || c.GoStack != 1179648 || c.GoSys != 60463368 || c.Messages != 7 {
		t.Fatalf("%+v", c)
	}
}
