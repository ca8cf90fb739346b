package pipeline

// runtimeFamily describes a family that VictoriaMetrics/metrics'
// WriteProcessMetrics writes: its type, a help text, and the name it is
// exported under when the library's name breaks Prometheus' conventions.
type runtimeFamily struct {
	typ, help, rename string
}

// runtimeFamilies are the Go runtime and process families of
// VictoriaMetrics/metrics v1.35 (go_metrics.go, process_metrics_linux.go).
// Two counters lack the _total suffix and a gauge ends in _count, which
// is reserved for histograms and summaries: those three are renamed. The
// process_io_* counters, which the library types as gauges, are counters.
// TestRuntimeFamiliesKnown fails when the library writes a family not here.
var runtimeFamilies = map[string]runtimeFamily{
	"go_sched_latencies_seconds":          {typ: "histogram", help: "Time goroutines spent runnable before running."},
	"go_mutex_wait_seconds_total":         {typ: "counter", help: "Time goroutines spent blocked on a sync.Mutex or sync.RWMutex."},
	"go_gc_mark_assist_cpu_seconds_total": {typ: "counter", help: "CPU time goroutines spent assisting the garbage collector."},
	"go_gc_cpu_seconds_total":             {typ: "counter", help: "CPU time spent in the garbage collector."},
	"go_gc_pauses_seconds":                {typ: "histogram", help: "Stop-the-world pause latencies of the garbage collector."},
	"go_scavenge_cpu_seconds_total":       {typ: "counter", help: "CPU time the runtime spent returning memory to the OS."},
	"go_memlimit_bytes": {typ: "gauge", help: "The Go runtime's soft memory limit (GOMEMLIMIT); " +
		"9223372036854775807 (math.MaxInt64) when no limit is set."},
	"go_memstats_alloc_bytes":          {typ: "gauge", help: "Bytes of allocated heap objects."},
	"go_memstats_alloc_bytes_total":    {typ: "counter", help: "Bytes allocated for heap objects, cumulative."},
	"go_memstats_buck_hash_sys_bytes":  {typ: "gauge", help: "Bytes of memory in profiling bucket hash tables."},
	"go_memstats_frees_total":          {typ: "counter", help: "Heap objects freed, cumulative."},
	"go_memstats_gc_cpu_fraction":      {typ: "gauge", help: "Fraction of the CPU time available to the program used by the garbage collector since the program started."},
	"go_memstats_gc_sys_bytes":         {typ: "gauge", help: "Bytes of memory in garbage collection metadata."},
	"go_memstats_heap_alloc_bytes":     {typ: "gauge", help: "Bytes of allocated heap objects."},
	"go_memstats_heap_idle_bytes":      {typ: "gauge", help: "Bytes in idle (unused) heap spans."},
	"go_memstats_heap_inuse_bytes":     {typ: "gauge", help: "Bytes in in-use heap spans."},
	"go_memstats_heap_objects":         {typ: "gauge", help: "Number of allocated heap objects."},
	"go_memstats_heap_released_bytes":  {typ: "gauge", help: "Bytes of physical memory returned to the OS."},
	"go_memstats_heap_sys_bytes":       {typ: "gauge", help: "Bytes of heap memory obtained from the OS."},
	"go_memstats_last_gc_time_seconds": {typ: "gauge", help: "Time the last garbage collection finished, in seconds since the Unix epoch."},
	"go_memstats_lookups_total":        {typ: "counter", help: "Pointer lookups performed by the runtime, cumulative."},
	"go_memstats_mallocs_total":        {typ: "counter", help: "Heap objects allocated, cumulative."},
	"go_memstats_mcache_inuse_bytes":   {typ: "gauge", help: "Bytes of allocated mcache structures."},
	"go_memstats_mcache_sys_bytes":     {typ: "gauge", help: "Bytes of memory obtained from the OS for mcache structures."},
	"go_memstats_mspan_inuse_bytes":    {typ: "gauge", help: "Bytes of allocated mspan structures."},
	"go_memstats_mspan_sys_bytes":      {typ: "gauge", help: "Bytes of memory obtained from the OS for mspan structures."},
	"go_memstats_next_gc_bytes":        {typ: "gauge", help: "Heap size target of the next garbage collection."},
	"go_memstats_other_sys_bytes":      {typ: "gauge", help: "Bytes of memory in miscellaneous off-heap runtime allocations."},
	"go_memstats_stack_inuse_bytes":    {typ: "gauge", help: "Bytes in stack spans."},
	"go_memstats_stack_sys_bytes":      {typ: "gauge", help: "Bytes of stack memory obtained from the OS."},
	"go_memstats_sys_bytes":            {typ: "gauge", help: "Total bytes of memory obtained from the OS."},
	"go_cgo_calls_count":               {typ: "counter", help: "Calls from Go to C, cumulative.", rename: "go_cgo_calls_total"},
	"go_cpu_count":                     {typ: "gauge", help: "Logical CPUs usable by the process (runtime.NumCPU).", rename: "go_logical_cpus"},
	"go_gc_duration_seconds":           {typ: "summary", help: "Stop-the-world pause durations of the garbage collector."},
	"go_gc_forced_count":               {typ: "counter", help: "Garbage collections forced by the application (runtime.GC), cumulative.", rename: "go_gc_forced_total"},
	"go_gomaxprocs":                    {typ: "gauge", help: "The GOMAXPROCS setting: OS threads that can run Go code at once."},
	"go_goroutines":                    {typ: "gauge", help: "Number of goroutines that currently exist."},
	"go_threads":                       {typ: "gauge", help: "Number of OS threads created by the runtime."},
	"go_info":                          {typ: "gauge", help: "Go version the binary was built with (always 1)."},
	"go_info_ext":                      {typ: "gauge", help: "Go compiler, GOARCH, GOOS and GOROOT of the binary (always 1)."},

	"process_cpu_seconds_system_total":       {typ: "counter", help: "System CPU time spent by the process."},
	"process_cpu_seconds_total":              {typ: "counter", help: "User and system CPU time spent by the process."},
	"process_cpu_seconds_user_total":         {typ: "counter", help: "User CPU time spent by the process."},
	"process_major_pagefaults_total":         {typ: "counter", help: "Major page faults of the process."},
	"process_minor_pagefaults_total":         {typ: "counter", help: "Minor page faults of the process."},
	"process_num_threads":                    {typ: "gauge", help: "OS threads of the process."},
	"process_resident_memory_bytes":          {typ: "gauge", help: "Resident memory size of the process."},
	"process_start_time_seconds":             {typ: "gauge", help: "Start time of the process, in seconds since the Unix epoch."},
	"process_virtual_memory_bytes":           {typ: "gauge", help: "Virtual memory size of the process."},
	"process_virtual_memory_peak_bytes":      {typ: "gauge", help: "Peak virtual memory size of the process."},
	"process_resident_memory_peak_bytes":     {typ: "gauge", help: "Peak resident memory size of the process."},
	"process_resident_memory_anon_bytes":     {typ: "gauge", help: "Resident anonymous memory of the process."},
	"process_resident_memory_file_bytes":     {typ: "gauge", help: "Resident file-backed memory of the process."},
	"process_resident_memory_shared_bytes":   {typ: "gauge", help: "Resident shared memory of the process."},
	"process_io_read_bytes_total":            {typ: "counter", help: "Bytes the process read (rchar, including page cache)."},
	"process_io_written_bytes_total":         {typ: "counter", help: "Bytes the process wrote (wchar, including page cache)."},
	"process_io_read_syscalls_total":         {typ: "counter", help: "Read system calls of the process."},
	"process_io_write_syscalls_total":        {typ: "counter", help: "Write system calls of the process."},
	"process_io_storage_read_bytes_total":    {typ: "counter", help: "Bytes the process read from storage."},
	"process_io_storage_written_bytes_total": {typ: "counter", help: "Bytes the process wrote to storage."},
	"process_max_fds":                        {typ: "gauge", help: "Maximum number of open file descriptors of the process."},
	"process_open_fds":                       {typ: "gauge", help: "Open file descriptors of the process."},
}
