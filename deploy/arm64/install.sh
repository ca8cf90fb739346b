#!/bin/sh
# install.sh — install edgeplane from the tarball (or the source tree) on a
# systemd gateway: the binary in /usr/local/bin, the unit in
# /etc/systemd/system, /etc/edgeplane/edgeplane.yaml if absent. Idempotent:
# rerun it to upgrade; it never overwrites a config, restarts the service
# only if the binary or unit changed, and refuses a binary built for
# another architecture.
#
#   sudo ./install.sh [BINARY] [CONFIG]
#
# BINARY defaults to ./edgeplane beside this script, then
# bin/linux-<arch>/edgeplane in the source tree; CONFIG (used only when
# /etc/edgeplane/edgeplane.yaml does not exist) to ./edgeplane.yaml beside
# this script. EDGEPLANE_ROOT=/some/dir installs into a staging root without
# touching systemd (for tests and image builds).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=${EDGEPLANE_ROOT:-}
bin_dir=$root/usr/local/bin
etc_dir=$root/etc/edgeplane
unit_dir=$root/etc/systemd/system

die() { echo "install.sh: $*" >&2; exit 1; }

# Map `uname -m` to Go's GOARCH and the ELF e_machine it implies.
host_arch() {
	case $(uname -m) in
	aarch64 | arm64) echo arm64 ;;
	armv7l | armv7* | armv8l) echo arm ;;
	x86_64 | amd64) echo amd64 ;;
	*) uname -m ;;
	esac
}

# ELF e_machine (bytes 18-19, little endian) of $1, as a GOARCH name.
elf_arch() {
	[ "$(od -An -c -N4 "$1" | tr -d ' ')" = '177ELF' ] || { echo "not-elf"; return; }
	m=$(od -An -tu2 -j18 -N2 "$1" | tr -d ' ')
	case $m in
	183) echo arm64 ;;
	40) echo arm ;;
	62) echo amd64 ;;
	*) echo "elf-machine-$m" ;;
	esac
}

arch=$(host_arch)
binary=${1:-}
if [ -z "$binary" ]; then
	for b in "$here/edgeplane" "$here/../../bin/linux-$arch/edgeplane"; do
		if [ -f "$b" ]; then binary=$b; break; fi
	done
	[ -n "$binary" ] || die "no edgeplane binary beside this script or in bin/linux-$arch/; pass its path"
fi
config=${2:-$here/edgeplane.yaml}
unit=$here/edgeplane.service
[ -f "$binary" ] || die "$binary: no such file"
[ -f "$unit" ] || die "$unit: no such file"

barch=$(elf_arch "$binary")
[ "$barch" = "$arch" ] || die "$binary is built for $barch, this machine is $arch ($(uname -m)); build one with GOOS=linux GOARCH=$arch (make $arch on arm64/arm)"

if [ -z "$root" ]; then
	[ "$(id -u)" = 0 ] || die "run as root (sudo $0)"
	if command -v dpkg-query >/dev/null 2>&1 &&
		dpkg-query -W -f '${Status}' edgeplane 2>/dev/null | grep -q 'ok installed'; then
		die "the edgeplane .deb is installed; upgrade with the .deb (apt install ./edgeplane_*.deb) or remove it first"
	fi
fi

changed=no
new_config=no
mkdir -p "$bin_dir" "$etc_dir" "$unit_dir"

# The binary: replaced by rename, so a running service keeps its old inode.
if ! cmp -s "$binary" "$bin_dir/edgeplane"; then
	install -m 0755 "$binary" "$bin_dir/.edgeplane.new"
	mv -f "$bin_dir/.edgeplane.new" "$bin_dir/edgeplane"
	echo "installed $bin_dir/edgeplane ($("$bin_dir/edgeplane" version))"
	changed=yes
else
	echo "$bin_dir/edgeplane is up to date"
fi

# The config: created once, never overwritten.
if [ ! -e "$etc_dir/edgeplane.yaml" ]; then
	[ -f "$config" ] || die "$config: no such file"
	install -m 0644 "$config" "$etc_dir/edgeplane.yaml"
	new_config=yes
	echo "created $etc_dir/edgeplane.yaml from $config — set gateway.id and kafka.brokers"
else
	echo "kept $etc_dir/edgeplane.yaml"
fi
if [ ! -e "$etc_dir/edgeplane.env" ] && [ -f "$here/edgeplane.env" ]; then
	install -m 0600 "$here/edgeplane.env" "$etc_dir/edgeplane.env"
	echo "created $etc_dir/edgeplane.env (mode 0600, for secrets)"
fi

# The unit, pointed at /usr/local/bin.
tmp_unit=$(mktemp)
trap 'rm -f "$tmp_unit"' EXIT
sed 's#/usr/bin/edgeplane#/usr/local/bin/edgeplane#g' "$unit" >"$tmp_unit"
if ! cmp -s "$tmp_unit" "$unit_dir/edgeplane.service"; then
	install -m 0644 "$tmp_unit" "$unit_dir/edgeplane.service"
	echo "installed $unit_dir/edgeplane.service"
	changed=yes
fi

if [ "$new_config" = yes ]; then
	# The packaged config is refused until its placeholders are set.
	echo "next: set gateway.id and kafka.brokers in $etc_dir/edgeplane.yaml, then: $bin_dir/edgeplane validate -c $etc_dir/edgeplane.yaml"
elif ! "$bin_dir/edgeplane" validate -c "$etc_dir/edgeplane.yaml"; then
	echo "install.sh: fix $etc_dir/edgeplane.yaml, then: systemctl restart edgeplane" >&2
	[ -n "$root" ] || systemctl daemon-reload
	exit 1
fi

if [ -n "$root" ]; then
	echo "staged under $root; systemd untouched"
	exit 0
fi
if [ ! -d /run/systemd/system ]; then
	echo "systemd is not running here: start it yourself with $bin_dir/edgeplane run -c $etc_dir/edgeplane.yaml"
	exit 0
fi
systemctl daemon-reload
systemctl enable edgeplane.service >/dev/null 2>&1
if systemctl is-active --quiet edgeplane.service; then
	if [ "$changed" = yes ]; then
		systemctl restart edgeplane.service
		echo "restarted edgeplane.service"
	fi
elif [ "$new_config" = yes ]; then
	echo "enabled edgeplane.service; edit $etc_dir/edgeplane.yaml, then: systemctl start edgeplane"
	exit 0
else
	systemctl start edgeplane.service
	echo "started edgeplane.service"
fi
systemctl --no-pager --lines=5 status edgeplane.service || true
