#!/usr/bin/env bash
# Build Petrel's default guest: Debian's current kernel (linux-image-amd64)
# and an initramfs with busybox-static whose /init mounts proc, sys and dev,
# loads the kernel's virtio drivers and the ACPI power button, starts acpid
# (the power button runs `sync; poweroff -f`), prints a banner and starts a
# shell on the console. docs/default-guest.md.
#
# Usage: tools/build-default-guest.sh [OUTDIR]   (default: build/guest)
# The kernel is fetched once with `apt-get download` (version resolved now) and
# kept; busybox-static is the host's, or fetched the same way.
# The initramfs is rebuilt when it was made by another version of this script
# (OUTDIR/initramfs.stamp); the kernel is kept. Prints the paths of the kernel
# and initramfs on its last two lines.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/lib-guest.sh
out=${1:-build/guest}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# The modules /init loads, in this order after their dependencies: the virtio
# PCI transport and devices, then evdev before button so the power button's
# input device gets its /dev/input/event node for acpid.
MODULES="virtio_pci virtio_blk virtio_net virtio_console virtio_rng virtio_balloon evdev button"

# One build at a time per directory (tests start in parallel). Not the
# OUTDIR.lock beside it: tests/linux/guestctl.py holds that one while it runs us.
exec 9>"$out/.build.lock"
flock 9

have_kernel() {
	[ -s "$out/vmlinuz" ] && [ -s "$out/kernel-version" ] && [ -d "$out/modules" ]
}
stamp_now() {
	guest_stamp "$(cat "$out/kernel-version")" tools/build-default-guest.sh tools/lib-guest.sh
}
if have_kernel && [ -x "$out/busybox" ] && [ -s "$out/initramfs.cpio.gz" ] &&
	[ "$(cat "$out/initramfs.stamp" 2>/dev/null)" = "$(stamp_now)" ]; then
	echo "$out/vmlinuz"
	echo "$out/initramfs.cpio.gz"
	exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# apt-get download PKG... into the work dir, refreshing the lists once if needed.
fetch() {
	(cd "$work" && apt-get download "$@" >/dev/null 2>&1) || {
		apt-get update -qq
		(cd "$work" && apt-get download "$@" >&2)
	}
}

if ! have_kernel; then
	# The metapackage names the current kernel package; download that one.
	kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	if [ -z "$kpkg" ]; then
		apt-get update -qq
		kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	fi
	[ -n "$kpkg" ] || { echo "build-default-guest: cannot resolve linux-image-amd64" >&2; exit 1; }
	echo "build-default-guest: downloading $kpkg" >&2
	fetch "$kpkg"
	dpkg-deb -x "$work"/linux-image-*.deb "$work/kernel"
	kver=$(basename "$work"/kernel/boot/vmlinuz-* | sed 's/^vmlinuz-//')
	# The module tree also serves tools/build-virtio-initramfs.sh.
	rm -rf "$out/modules"
	mv "$work/kernel/lib/modules/$kver" "$out/modules"
	cp "$work"/kernel/boot/vmlinuz-* "$out/vmlinuz.tmp"
	mv -f "$out/vmlinuz.tmp" "$out/vmlinuz"
	echo "$kver" > "$out/kernel-version"
fi
if [ ! -x "$out/busybox" ]; then
	# Debian's busybox-static: the host's (tools/install-deps.sh), else fetched.
	guest_busybox "$out" "$out/busybox.tmp"
	mv -f "$out/busybox.tmp" "$out/busybox"
fi
kver=$(cat "$out/kernel-version")

root=$work/root
mkdir -p "$root"/{bin,sbin,proc,sys,dev,etc,tmp,root,lib/modules}
cp "$out/busybox" "$root/bin/busybox"
for applet in sh mount uname cat echo ls poweroff reboot sha256sum awk sleep dmesg; do
	ln -s busybox "$root/bin/$applet"
done
guest_modules "$out/modules" "$root/lib/modules" $MODULES > "$root/lib/modules/order"
echo "build-default-guest: Linux $kver, modules: $(tr '\n' ' ' < "$root/lib/modules/order")" >&2
# A known file so tests can compare its digest with the host's.
head -c 65536 /dev/zero | tr '\0' 'P' > "$root/etc/petrel-test-file"
guest_power_button "$root"
cat > "$root/init" <<'INIT'
#!/bin/sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
/bin/busybox --install -s /bin
n=0
failed=""
for m in $(cat /lib/modules/order); do
	if insmod /lib/modules/$m.ko 2>/dev/null; then n=$((n + 1)); else failed="$failed $m"; fi
done
if acpid -c /etc/acpi -l /dev/null; then pb="acpid"; else pb="no acpid"; failed="$failed acpid"; fi
# With console=hvc0 (--console virtio) the kernel had no such device when it
# opened /dev/console for /init: use it now that virtio_console is loaded.
cons=""
for arg in $(cat /proc/cmdline); do
	case "$arg" in console=*) cons=${arg#console=}; cons=${cons%%,*} ;; esac
done
case "$cons" in
hvc*)
	for i in 1 2 3 4 5 6 7 8 9 10; do [ -c "/dev/$cons" ] && break; sleep 0.2; done
	exec <"/dev/$cons" >"/dev/$cons" 2>&1
	;;
*) cons="" ;;
esac
echo "init: $n modules loaded, power button: $pb${failed:+; FAILED:$failed}"
echo "Petrel default guest: Linux $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPU(s)"
# setsid and an open of the device make it the shell's controlling terminal.
[ -n "$cons" ] && exec setsid sh -c "exec /bin/sh <'/dev/$cons' >'/dev/$cons' 2>&1"
exec /bin/sh
INIT
chmod +x "$root/init"
# Written aside and renamed, so a guest booting meanwhile never reads half a file.
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) > "$out/initramfs.cpio.gz.tmp"
mv -f "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
stamp_now > "$out/initramfs.stamp"
echo "$out/vmlinuz"
echo "$out/initramfs.cpio.gz"
