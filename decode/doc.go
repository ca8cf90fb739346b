// Package decode turns sensor payloads into readings: no I/O, no
// goroutines, one Decoder per receive goroutine.
//
//   - options.go: Options, the typed decoder options (Format, TimeUnit,
//     fields and paths) and their Validate;
//   - decode.go: Decoder, Batch, Reading and the reject Reasons;
//   - decode_json.go: generic JSON with configured paths, The Things Stack
//     uplinks and Zigbee2MQTT over the fastjson tree; decode_senml.go: SenML
//     packs; decode_multi.go: payloads of several records (JSON arrays,
//     NDJSON); decode_time.go: event times in every unit;
//   - decode_flat*.go: the fast path for flat JSON objects — the shape of
//     the source's last message matched with word compares, else a
//     one-pass scan, both strict subsets of fastjson that fall back to its
//     tree (and are fuzzed against it) on anything they do not take;
//   - topic.go: MQTT topic filters, topic patterns ({district}/{id}) and
//     key templates.
//
// Every decoder of outside bytes has a fuzz target in decode_fuzz_test.go.
// The package imports only fastjson and record; ingest (the transports)
// and the servers-free test harness both use it.
package decode
