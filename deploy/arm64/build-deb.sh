#!/usr/bin/env bash
# build-deb.sh — build dist/edgeplane_<version>_<arch>.deb with nfpm, from
# bin/linux-<goarch>/edgeplane (built with `make <goarch>` first if missing).
#
#   deploy/arm64/build-deb.sh              # arm64 (Raspberry Pi 3/4/5 and most ARM gateways on a 64-bit OS)
#   GOARCH=arm deploy/arm64/build-deb.sh   # armhf (32-bit Raspberry Pi OS, ARMv7); needs `make arm`
#
# VERSION (default: git describe, else dev) becomes the Debian version:
# v1.4.0 → 1.4.0, v1.4.0-3-gabc123 → 1.4.0+3.gabc123, 3c87eb4-dirty →
# 0.0.0~3c87eb4.dirty, dev → 0.0.0~dev.
# nfpm comes through the Go module proxy, pinned below; it is not a module
# dependency. (v2.46.0 and later need go.digitalxero.dev modules, which the
# proxy does not serve to every network.)
set -euo pipefail
cd "$(dirname "$0")/../.."

NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
goarch=${GOARCH:-arm64}
case $goarch in
arm64) deb_arch=arm64 ;;
arm) deb_arch=armhf ;;
amd64) deb_arch=amd64 ;;
*) echo "build-deb.sh: GOARCH=$goarch is not packaged" >&2; exit 2 ;;
esac
binary=bin/linux-$goarch/edgeplane
if [ ! -x "$binary" ]; then
	echo "== $binary missing: make $goarch"
	make "$goarch"
fi

version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
if [[ $version =~ ^v?[0-9]+\.[0-9]+ ]]; then
	deb_version=$(printf '%s' "$version" | sed -E 's/^v//; s/-([0-9]+)-g([0-9a-f]+)/+\1.g\2/; s/-dirty$/~dirty/')
else # no release tag: a commit id or "dev" sorts below every release
	deb_version=0.0.0~$(printf '%s' "$version" | tr -c 'A-Za-z0-9.+~\n' '.')
fi

mkdir -p dist
out=dist/edgeplane_${deb_version}_${deb_arch}.deb
rm -f "$out"
# nfpm does not expand variables in contents' src: stage the binary at the
# fixed path nfpm.yaml names.
stage=dist/.deb-stage
rm -rf "$stage"
mkdir -p "$stage"
cp "$binary" "$stage/edgeplane"
trap 'rm -rf "$stage"' EXIT
echo "== nfpm: $out (binary $binary, $(stat -c %s "$binary") bytes)"
DEB_ARCH=$deb_arch DEB_VERSION=$deb_version \
	GOFLAGS= GOOS= GOARCH= GOARM= go run "$NFPM" pkg --packager deb -f deploy/arm64/nfpm.yaml --target "$out"
echo "$out"
