// Package record holds the types the stages of edgeplane exchange: the
// fixed-size, pointer-free Sample that flows from ingest through the rings
// into the operators, the Aggregate the operators emit to the sink, and the
// bounded SeriesTable that interns series keys into dense uint32 ids.
//
// It owns no I/O and no goroutines. Every other stage may import it; it
// imports none of them.
package record
