#!/usr/bin/env bash
# qemu-arm64.sh — prove the linux/arm64 build works: build it (make arm64),
# then under qemu-user (qemu-aarch64): `version`, `validate` on every
# shipped config, a 20 s demo that must forward aggregates to Kafka and
# read them back, and the ring and operators tests. On an arm64 host the
# same checks run natively. About 2-3 minutes on 2 cores with a warm build
# cache; the first run also compiles everything for arm64.
#
# ARM32=1 also builds linux/arm (GOARM=7, 32-bit Raspberry Pi OS) and runs
# version, validate and the same tests under qemu-arm.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:-} -mod=readonly"

t0=$SECONDS
step() { echo "== [$((SECONDS - t0))s] $*"; }

case $(uname -m) in
aarch64 | arm64) qemu=() ;;
*) qemu=(qemu-aarch64) ;;
esac
need=()
if [ ${#qemu[@]} -gt 0 ] && ! command -v qemu-aarch64 >/dev/null 2>&1; then need+=(qemu-user); fi
if [ "${ARM32:-0}" = 1 ] && ! command -v qemu-arm >/dev/null 2>&1; then need+=(qemu-user); fi
if [ ${#need[@]} -gt 0 ]; then
	step "installing qemu-user from Debian's packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends qemu-user >/dev/null
fi
[ ${#qemu[@]} -eq 0 ] || step "$(qemu-aarch64 --version | head -1)"

step "make arm64"
make arm64
bin=bin/linux-arm64/edgeplane
if command -v file >/dev/null 2>&1; then file "$bin"; fi

step "edgeplane version"
"${qemu[@]}" "$bin" version

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The example configs take their secrets and data_dir from the
# environment; the packaged one must be refused as shipped (its
# placeholders) and accepted once they are set, as an operator does.
export EDGEPLANE_WS_TOKEN=ci-secret EDGEPLANE_HTTP_TOKEN=ci-http-secret EDGEPLANE_DATA_DIR="$tmp/data"
packaged="$tmp/edgeplane.yaml"
sed -e 's/id: gw-change-me/id: gw-ci/' -e 's/kafka.example.internal/127.0.0.1/' \
	-e "s#/var/lib/edgeplane#$tmp/data#" deploy/arm64/edgeplane.yaml >"$packaged"
validate_all() { # validate_all CMD...: every shipped config with CMD
	for f in configs/*.yaml "$packaged"; do
		"$@" validate -c "$f"
	done
	if "$@" validate -c deploy/arm64/edgeplane.yaml >/dev/null 2>&1; then
		echo "the packaged config validated with its placeholders" >&2
		exit 1
	fi
}

step "edgeplane validate"
validate_all "${qemu[@]}" "$bin"

step "edgeplane demo --duration 20s (the built-in demo config; HTTP on 127.0.0.1:8088)"
set +e
timeout 90 "${qemu[@]}" "$bin-demo" demo --duration 20s --quiet --data "$tmp/data" >"$tmp/demo.out" 2>&1
rc=$?
set -e
grep -v '^demo: kafka ' "$tmp/demo.out" | tail -n 6
forwarded=$(sed -n 's/.*forwarded to Kafka \([0-9][0-9]*\).*/\1/p' "$tmp/demo.out" | tail -n 1)
readback=$(sed -n 's/^demo: read \([0-9][0-9]*\) aggregates back from Kafka.*/\1/p' "$tmp/demo.out" | tail -n 1)
if [ "$rc" -ne 0 ] || [ "${forwarded:-0}" -eq 0 ] || [ "${readback:-0}" -eq 0 ]; then
	echo "qemu-arm64: demo failed: exit $rc, forwarded to Kafka ${forwarded:-none}, read back ${readback:-none}" >&2
	cat "$tmp/demo.out" >&2
	exit 1
fi
step "demo ok: $forwarded aggregates forwarded to Kafka, $readback read back"

step "go test -short ./ring/ ./operators/ (GOARCH=arm64${qemu:+, -exec qemu-aarch64})"
exec_flag=()
[ ${#qemu[@]} -eq 0 ] || exec_flag=(-exec qemu-aarch64)
GOARCH=arm64 CGO_ENABLED=0 go test -short -count=1 "${exec_flag[@]}" -timeout 6m ./ring/ ./operators/

if [ "${ARM32:-0}" = 1 ]; then
	step "linux/arm GOARM=7: build, version, validate, tests under qemu-arm"
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 go build -trimpath -o "$tmp/edgeplane-arm" ./cmd/edgeplane
	qemu-arm "$tmp/edgeplane-arm" version
	validate_all qemu-arm "$tmp/edgeplane-arm"
	GOARCH=arm GOARM=7 CGO_ENABLED=0 go test -short -count=1 -exec qemu-arm -timeout 6m ./ring/ ./operators/
fi
step "qemu-arm64: all checks passed"
