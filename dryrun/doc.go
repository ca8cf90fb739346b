// Package dryrun runs a compiled configuration's pipelines on payloads
// in-process, without servers: decode, tag filters, field mapping, the
// stateless chain and, on request, the windows, reporting what each
// message became — its readings and what every pipeline did with each,
// or the decoder's reject reason — and the aggregate and late records the
// windows emit, as the same JSON the Kafka records carry.
//
// It is the engine of `edgeplane test` and of the servers-free test tier
// ("YAML config + JSON payloads in → aggregate JSON out"), whose tests run
// under testing/synctest: every time it uses is passed in (arrival and
// wall-clock times), so a fake clock drives it exactly.
//
// It runs each pipeline as one operators.Shard that derives the
// watermark from the samples it sees in arrival order — WINDOWS.md's
// sequential semantics, which the gateway's in-band watermark markers
// reproduce over several shards. It has no rings, no JetStream buffer and
// no Kafka client: what it shows is what the gateway computes, not how it
// delivers.
package dryrun
