#!/usr/bin/env bash
# ingest-cpu.sh — CPU per million readings for the two ways sensors reach
# edgeplane, broker and dataplane together, on the same load:
#   embedded: sensors → edgeplane's embedded MQTT listener, taken in-process
#   mosquitto: sensors → Mosquitto → edgeplane's paho source
# Usage: bench/scripts/ingest-cpu.sh [RATE msg/s, default 10000] [SECONDS, default 20]
# Needs bin/edgeplane and bin/edgebench (make build) and mosquitto.
set -euo pipefail
cd "$(dirname "$0")/../.."
RATE=${1:-10000}
SECS=${2:-20}
TICK=$(getconf CLK_TCK)
MOSQ=$(command -v mosquitto || echo /usr/sbin/mosquitto)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
readings() { curl -s "http://$1/metrics" | awk '/^edgeplane_ingest_readings_total/ {s+=$2} END {print s+0}'; }

config() { # $1 = source block
	cat <<YAML
gateway: {id: cpu-test, data_dir: $work/data-$2, http_listen: 127.0.0.1:$3, log_level: warn, telemetry_interval: "off"}
nats: {mqtt_listen: "127.0.0.1:$4"}
kafka: {brokers: ["127.0.0.1:9"]}
sources:
$1
pipelines:
  - name: air
    from: [air]
    window: {type: tumbling, size: 10s, out_of_orderness: 2s}
    ring: {shards: 2}
YAML
}
decode='    decode:
      topic_pattern: "city/{district}/{type}/{id}"
      key: "{district}/{id}"
      time_path: ts
      time_unit: ms
      fields: [{name: pm25}, {name: pm10}, {name: temp}, {name: hum}]'

measure() { # $1 = mode, $2 = config file, $3 = http, $4 = broker URL, $5 = broker pid or ""
	./bin/edgeplane run -c "$2" 2>"$work/$1.log" &
	local ep=$!
	for _ in $(seq 100); do curl -sf "http://$3/healthz" >/dev/null && break; sleep 0.1; done
	local r0 e0 b0=0 r1 e1 b1=0
	r0=$(readings "$3"); e0=$(cpu_ticks $ep); [ -n "$5" ] && b0=$(cpu_ticks "$5")
	./bin/edgebench sim --broker "$4" --rate "$RATE" --duration "${SECS}s" --types air --districts 10 --sensors 100 --qos 0 >"$work/$1.sim"
	sleep 2
	r1=$(readings "$3"); e1=$(cpu_ticks $ep); [ -n "$5" ] && b1=$(cpu_ticks "$5")
	kill $ep; wait $ep 2>/dev/null || true
	python3 - "$1" "$r0" "$r1" "$e0" "$e1" "$b0" "$b1" "$TICK" "$(cat "$work/$1.sim")" <<'PY'
import sys
mode, r0, r1, e0, e1, b0, b1, tick, sim = sys.argv[1], *map(float, sys.argv[2:9]), sys.argv[9]
n = r1 - r0
ep, br = (e1 - e0) / tick, (b1 - b0) / tick
per = lambda s: s / n * 1e6 if n else float("nan")
print(f"| {mode} | {n:,.0f} | {ep:.2f} | {br:.2f} | {ep+br:.2f} | {per(ep):.2f} | {per(br):.2f} | {per(ep+br):.2f} |")
print(f"  ({sim.strip()})", file=sys.stderr)
PY
}

echo "load: $RATE msg/s of 4 readings for ${SECS}s, QoS 0; CPU seconds from /proc"
echo
echo "| mode | readings | edgeplane CPU s | broker CPU s | total CPU s | edgeplane s/M readings | broker s/M | total s/M |"
echo "|---|---|---|---|---|---|---|---|"

h=$(free_port); m=$(free_port)
config "  - name: air
    type: embedded
    embedded: {topics: [\"city/+/air/+\"]}
$decode" emb "$h" "$m" > "$work/emb.yaml"
measure embedded "$work/emb.yaml" "127.0.0.1:$h" "tcp://127.0.0.1:$m" ""

mp=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 1000000\n' "$mp" > "$work/mosq.conf"
[ "$(id -u)" = 0 ] && echo "user root" >> "$work/mosq.conf"
"$MOSQ" -c "$work/mosq.conf" 2>"$work/mosq.log" &
mpid=$!
sleep 0.5
h=$(free_port); m=$(free_port)
config "  - name: air
    mqtt: {broker: \"tcp://127.0.0.1:$mp\", topics: [\"city/+/air/+\"], qos: 0}
$decode" mosq "$h" "$m" > "$work/mosq.yaml"
measure mosquitto+paho "$work/mosq.yaml" "127.0.0.1:$h" "tcp://127.0.0.1:$mp" "$mpid"
