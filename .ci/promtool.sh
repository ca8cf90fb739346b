#!/usr/bin/env bash
# promtool.sh — check a real gateway's /metrics with Prometheus' own
# parser and linter: build bin/edgeplane, run `edgeplane demo` (embedded
# NATS, in-process Kafka, simulated sensors; configs/demo.yaml with its
# HTTP listener moved to $PROMTOOL_ADDR, default 127.0.0.1:18088), wait
# until aggregates reach Kafka, then `curl /metrics | promtool check
# metrics`. Fails on any problem promtool reports. Needs promtool (Debian:
# apt-get install prometheus) and curl; .ci/run installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:-} -mod=readonly"

t0=$SECONDS
step() { echo "== [$((SECONDS - t0))s] $*"; }
addr=${PROMTOOL_ADDR:-127.0.0.1:18088}

for tool in promtool curl; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "promtool.sh: $tool not found (Debian: apt-get install prometheus curl)" >&2
		exit 1
	fi
done
step "$(promtool --version 2>&1 | head -1)"

step "go build -tags demo -o bin/edgeplane-demo ./cmd/edgeplane"
go build -tags demo -o bin/edgeplane-demo ./cmd/edgeplane # the flags of make test: its build cache

tmp=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

sed "s|^  http_listen: .*|  http_listen: $addr|" configs/demo.yaml >"$tmp/demo.yaml"
grep -q "^  http_listen: $addr\$" "$tmp/demo.yaml" || {
	echo "promtool.sh: configs/demo.yaml has no gateway.http_listen line to replace" >&2
	exit 1
}
step "edgeplane demo --duration 120s (metrics on http://$addr/metrics)"
bin/edgeplane-demo demo -c "$tmp/demo.yaml" --data "$tmp/data" --duration 120s --quiet >"$tmp/demo.out" 2>&1 &
pid=$!

# Wait for /metrics, then for aggregates in Kafka (so the latency histogram
# and the forwarder's counters have values), 60 s at most.
ok=
for _ in $(seq 1 120); do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "promtool.sh: the demo exited early" >&2
		cat "$tmp/demo.out" >&2
		exit 1
	fi
	if curl -sf "http://$addr/metrics" >"$tmp/metrics.txt" 2>/dev/null &&
		grep -Eq '^edgeplane_sink_kafka_records_total [1-9]' "$tmp/metrics.txt"; then
		ok=1
		break
	fi
	sleep 0.5
done
if [ -z "$ok" ]; then
	echo "promtool.sh: no aggregates in Kafka after 60 s (or /metrics did not answer)" >&2
	cat "$tmp/demo.out" >&2
	exit 1
fi

curl -sf "http://$addr/metrics" >"$tmp/metrics.txt"
step "promtool check metrics ($(grep -c '^# TYPE ' "$tmp/metrics.txt") families, $(grep -vc '^#' "$tmp/metrics.txt") samples)"
set +e
promtool check metrics <"$tmp/metrics.txt" >"$tmp/promtool.out" 2>&1
rc=$?
set -e
if [ "$rc" -ne 0 ] || [ -s "$tmp/promtool.out" ]; then
	echo "promtool.sh: promtool check metrics failed (exit $rc):" >&2
	cat "$tmp/promtool.out" >&2
	exit 1
fi
step "promtool check metrics: no problems"
