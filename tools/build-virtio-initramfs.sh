#!/usr/bin/env bash
# Build the virtio initramfs: the default guest's drivers plus ext4, DHCP on
# eth0 and a switch to a root disk. It loads the Debian kernel's virtio
# drivers, ext4 and the ACPI power button as modules, brings eth0 up with DHCP
# if there is one, then gives a shell on the console (acpid powers the guest
# off on the power button) -- or, with root=/dev/vdX on the command line,
# mounts that disk and switch_roots to its /sbin/init.
#
# Usage: tools/build-virtio-initramfs.sh [GUEST_DIR]   (default: build/guest)
# GUEST_DIR comes from tools/build-default-guest.sh (run first if missing):
# GUEST_DIR/modules is the kernel's /lib/modules/<ver> tree. Writes
# GUEST_DIR/initramfs-virtio.cpio.gz and prints its path on the last line.
# The module list is computed by guest_modules in tools/lib-guest.sh.
# docs/guest-images.md says why this is a second image.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/lib-guest.sh
guest=${1:-build/guest}
if [ ! -s "$guest/vmlinuz" ] || [ ! -d "$guest/modules" ]; then
	echo "build-virtio-initramfs: $guest has no kernel/modules; running build-default-guest.sh" >&2
	tools/build-default-guest.sh "$guest" >&2
fi
guest=$(cd "$guest" && pwd)
out=$guest/initramfs-virtio.cpio.gz
kver=$(cat "$guest/kernel-version")
stamp=$guest/initramfs-virtio.stamp
# Up to date: made by this version of the scripts for this kernel.
if [ -z "${FORCE:-}" ] && [ -s "$out" ] &&
	[ "$(cat "$stamp" 2>/dev/null)" = "$(guest_stamp "$kver" tools/build-virtio-initramfs.sh tools/lib-guest.sh)" ]; then
	echo "$out"
	exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,sbin,proc,sys,dev,etc,tmp,root,newroot,lib/modules,usr/share/udhcpc}

guest_busybox "$guest" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
guest_power_button "$root"

wanted="virtio_pci virtio_blk virtio_net virtio_console virtio_rng virtio_balloon ext4 evdev button"
echo "build-virtio-initramfs: resolving $wanted for Linux $kver" >&2
guest_modules "$guest/modules" "$root/lib/modules" $wanted > "$work/order"
echo "build-virtio-initramfs: load order: $(tr '\n' ' ' < "$work/order")" >&2
cp "$work/order" "$root/lib/modules/order"

cat > "$root/usr/share/udhcpc/default.script" <<'DHCP'
#!/bin/sh
# udhcpc hook: configure the interface from the lease.
case "$1" in
deconfig)
	ifconfig "$interface" 0.0.0.0 up
	;;
bound|renew)
	ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" up
	if [ -n "$router" ]; then
		while route del default gw 0.0.0.0 dev "$interface" 2>/dev/null; do :; done
		for r in $router; do route add default gw "$r" dev "$interface"; break; done
	fi
	: > /etc/resolv.conf
	for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
	echo "udhcpc: $interface bound to $ip"
	;;
esac
exit 0
DHCP
chmod +x "$root/usr/share/udhcpc/default.script"

cat > "$root/init" <<'INIT'
#!/bin/sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
echo "virtio-initramfs: Linux $(uname -r)"
for m in $(cat /lib/modules/order); do
	if insmod /lib/modules/$m.ko; then
		echo "virtio-initramfs: loaded $m"
	else
		echo "virtio-initramfs: FAILED to load $m"
	fi
done
# With console=hvc0 the kernel found no console device when it opened
# /dev/console, so /init has no output until virtio_console is loaded.
cons=""
for arg in $(cat /proc/cmdline); do
	case "$arg" in console=*) cons=${arg#console=}; cons=${cons%%,*} ;; esac
done
if [ -n "$cons" ] && [ "$cons" != ttyS0 ]; then
	for i in 1 2 3 4 5 6 7 8 9 10; do [ -c "/dev/$cons" ] && break; sleep 0.2; done
fi
if [ -n "$cons" ] && [ "$cons" != ttyS0 ] && [ -c "/dev/$cons" ]; then
	exec </dev/$cons >/dev/$cons 2>&1
	echo "virtio-initramfs: output now on /dev/$cons"
fi
# Drivers probe asynchronously; give the devices a moment to appear.
for i in 1 2 3 4 5 6 7 8 9 10; do
	[ -e /sys/class/net/eth0 ] || [ -e /dev/vda ] && break
	ls /sys/bus/virtio/devices 2>/dev/null | grep -q . || break
	sleep 0.2
done
echo "virtio-initramfs: virtio devices: $(ls /sys/bus/virtio/devices 2>/dev/null | tr '\n' ' ')"
ifconfig lo 127.0.0.1 up
if [ -e /sys/class/net/eth0 ]; then
	echo "virtio-initramfs: udhcpc on eth0"
	udhcpc -i eth0 -n -q -t 5 -T 2 -s /usr/share/udhcpc/default.script ||
		echo "virtio-initramfs: no DHCP lease"
fi
rootdev=""
for arg in $(cat /proc/cmdline); do
	case "$arg" in root=/dev/*) rootdev=${arg#root=} ;; esac
done
if [ -n "$rootdev" ]; then
	echo "virtio-initramfs: mounting $rootdev"
	for i in 1 2 3 4 5 6 7 8 9 10; do [ -b "$rootdev" ] && break; sleep 0.5; done
	if mount -t ext4 "$rootdev" /newroot; then
		umount /sys /proc
		mount --move /dev /newroot/dev 2>/dev/null || umount /dev
		echo "virtio-initramfs: switch_root to $rootdev"
		exec switch_root /newroot /sbin/init
	fi
	echo "virtio-initramfs: cannot mount $rootdev; shell instead"
fi
# Staying in the initramfs: the power button powers off (after switch_root
# the root disk's own init handles it).
acpid -c /etc/acpi -l /dev/null || echo "virtio-initramfs: FAILED to start acpid"
echo "virtio-initramfs: ready"
# The kernel opened /dev/console before virtio_console existed, so a
# console=hvc0 user would have no terminal: attach the shell to it now.
if [ -n "$cons" ] && [ "$cons" != ttyS0 ] && [ -c "/dev/$cons" ]; then
	exec setsid sh -c "exec /bin/sh </dev/$cons >/dev/$cons 2>&1"
fi
exec /bin/sh
INIT
chmod +x "$root/init"
# Written aside and renamed, so a guest booting meanwhile never reads half a file.
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -6) > "$out.tmp"
mv -f "$out.tmp" "$out"
guest_stamp "$kver" tools/build-virtio-initramfs.sh tools/lib-guest.sh > "$stamp"
echo "build-virtio-initramfs: $(du -h "$out" | cut -f1) written" >&2
echo "$out"
