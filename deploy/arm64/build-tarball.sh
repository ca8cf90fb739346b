#!/usr/bin/env bash
# build-tarball.sh — dist/edgeplane_<version>_linux_<goarch>.tar.gz for
# gateways without dpkg: the binary, install.sh, the unit, the default
# config and env file, and the README. Unpack on the gateway and run
# `sudo ./install.sh`. Builds bin/linux-<goarch>/edgeplane first if missing.
#
#   deploy/arm64/build-tarball.sh          # GOARCH=arm64 (default) or arm
set -euo pipefail
cd "$(dirname "$0")/../.."

goarch=${GOARCH:-arm64}
binary=bin/linux-$goarch/edgeplane
if [ ! -x "$binary" ]; then
	echo "== $binary missing: make $goarch"
	make "$goarch"
fi
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
name=edgeplane_${version#v}_linux_$goarch
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name"
install -m 0755 "$binary" deploy/arm64/install.sh "$stage/$name/"
install -m 0644 deploy/arm64/edgeplane.service deploy/arm64/edgeplane.yaml \
	deploy/arm64/README.md "$stage/$name/"
install -m 0600 deploy/arm64/edgeplane.env "$stage/$name/"
mkdir -p dist
tar -C "$stage" --owner=0 --group=0 -czf "dist/$name.tar.gz" "$name"
echo "dist/$name.tar.gz"
