#!/usr/bin/env bash
# Install what Petrel needs to build and test on Debian 12, using apt-get only
# for packages that are missing. Run as root (or with sudo).
#   tools/install-deps.sh          build, tests, default guest (what CI needs)
#   tools/install-deps.sh --bench  also the benchmarks' peer and tools: QEMU
#                                  (never a dependency of petrel), fio, iperf3
set -euo pipefail

packages=(
	# build
	gcc meson ninja-build pkg-config
	zlib1g-dev liblzma-dev libzstd-dev liblz4-dev libbz2-dev liburing-dev libslirp-dev libglib2.0-dev
	# the HTTP API (docs/api.md)
	libmicrohttpd-dev libjansson-dev
	# the toolstack: petrel's verbs (and petreld) speak HTTP over Unix sockets with libcurl
	libcurl4-openssl-dev
	# tests: unit tests, tiny guests, CPU tester oracles, ACPI disassembler, fuzzing
	libcmocka-dev nasm libcapstone-dev libzydis-dev acpica-tools
	python3-yaml
	clang libclang-rt-14-dev
	# default guest image (Debian kernel + busybox initramfs)
	cpio busybox-static
)
if [ "${1:-}" = "--bench" ]; then
	# benchmarks (bench/): QEMU TCG is the peer; fio and iperf3 run inside the guest
	packages+=(qemu-system-x86 fio iperf3)
elif [ $# -gt 0 ]; then
	echo "usage: tools/install-deps.sh [--bench]" >&2
	exit 2
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
