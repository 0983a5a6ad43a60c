#!/usr/bin/env bash
# Build Petrel's default guest: Debian's current kernel (linux-image-amd64)
# and an initramfs with busybox-static whose /init mounts proc, sys and dev,
# prints a banner and starts a shell on the console.
#
# Usage: tools/build-default-guest.sh [OUTDIR]   (default: build/guest)
# Fetched once with `apt-get download` (versions resolved now) and cached.
# Prints the paths of the kernel and initramfs on its last two lines.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/guest}
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ -s "$out/vmlinuz" ] && [ -s "$out/initramfs.cpio.gz" ]; then
	echo "$out/vmlinuz"
	echo "$out/initramfs.cpio.gz"
	exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# The metapackage names the current kernel package; download that one.
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
if [ -z "$kpkg" ]; then
	apt-get update -qq
	kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
fi
[ -n "$kpkg" ] || { echo "build-default-guest: cannot resolve linux-image-amd64" >&2; exit 1; }
echo "build-default-guest: downloading $kpkg and busybox-static" >&2
apt-get download "$kpkg" busybox-static >/dev/null 2>&1 || {
	apt-get update -qq
	apt-get download "$kpkg" busybox-static >&2
}
dpkg-deb -x linux-image-*.deb kernel
dpkg-deb -x busybox-static_*.deb bb
cp kernel/boot/vmlinuz-* "$out/vmlinuz"
kver=$(basename kernel/boot/vmlinuz-* | sed 's/^vmlinuz-//')
echo "$kver" > "$out/kernel-version"
# Keep the module tree for initramfs builders that add virtio drivers.
rm -rf "$out/modules"
mv kernel/lib/modules/"$kver" "$out/modules"

root=$work/root
mkdir -p "$root"/{bin,sbin,proc,sys,dev,etc,tmp,root}
cp bb/bin/busybox "$root/bin/busybox"
for applet in sh mount uname cat echo ls poweroff reboot sha256sum awk sleep dmesg; do
	ln -s busybox "$root/bin/$applet"
done
# A known file so tests can compare its digest with the host's.
head -c 65536 /dev/zero | tr '\0' 'P' > "$root/etc/petrel-test-file"
cat > "$root/init" <<'INIT'
#!/bin/sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
/bin/busybox --install -s /bin
echo "Petrel default guest: Linux $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPU(s)"
exec /bin/sh
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) > "$out/initramfs.cpio.gz"
echo "$out/vmlinuz"
echo "$out/initramfs.cpio.gz"
