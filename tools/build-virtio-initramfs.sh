#!/usr/bin/env bash
# Build an initramfs that loads the Debian kernel's virtio drivers (and ext4)
# as modules, brings eth0 up with DHCP if there is one, then gives a shell on
# the console -- or, with root=/dev/vdX on the command line, mounts that disk
# and switch_roots to its /sbin/init.
#
# Usage: tools/build-virtio-initramfs.sh [GUEST_DIR]   (default: build/guest)
# GUEST_DIR comes from tools/build-default-guest.sh (run first if missing):
# GUEST_DIR/modules is the kernel's /lib/modules/<ver> tree. Writes
# GUEST_DIR/initramfs-virtio.cpio.gz and prints its path on the last line.
#
# The module list is computed, not hand-written: each wanted module's
# `depends=` field (from the .ko's .modinfo section) is followed to a closure,
# `softdep=pre:` aliases are resolved against the crypto modules' `alias=`
# fields (ext4 asks for crypto-crc32c), and the result is ordered so every
# module comes after its dependencies. Built-in modules (modules.builtin)
# need no loading.
set -euo pipefail
cd "$(dirname "$0")/.."
guest=${1:-build/guest}
if [ ! -s "$guest/vmlinuz" ] || [ ! -d "$guest/modules" ]; then
	echo "build-virtio-initramfs: $guest has no kernel/modules; running build-default-guest.sh" >&2
	tools/build-default-guest.sh "$guest" >&2
fi
guest=$(cd "$guest" && pwd)
out=$guest/initramfs-virtio.cpio.gz
kver=$(cat "$guest/kernel-version")
# Up to date: newer than this script and than the module tree.
if [ -z "${FORCE:-}" ] && [ -s "$out" ] && [ "$out" -nt "$0" ] && [ "$out" -nt "$guest/kernel-version" ]; then
	echo "$out"
	exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,sbin,proc,sys,dev,etc,tmp,root,newroot,lib/modules,usr/share/udhcpc}

# busybox: prefer the guest dir's copy source (busybox-static), else the host's.
bb=""
for c in /bin/busybox /usr/bin/busybox; do
	if [ -x "$c" ] && file -L "$c" 2>/dev/null | grep -q 'statically linked'; then bb=$c; break; fi
done
if [ -z "$bb" ]; then
	(cd "$work" && apt-get download busybox-static >/dev/null 2>&1 && dpkg-deb -x busybox-static_*.deb bbx)
	bb=$work/bbx/bin/busybox
fi
[ -x "$bb" ] || { echo "build-virtio-initramfs: no static busybox" >&2; exit 1; }
cp "$bb" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"

wanted="virtio_pci virtio_blk virtio_net virtio_console virtio_rng virtio_balloon ext4"
echo "build-virtio-initramfs: resolving $wanted for Linux $kver" >&2
python3 - "$guest/modules" "$root/lib/modules" $wanted > "$work/order" <<'PY'
import lzma, os, subprocess, sys

moddir, dest, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]

def modname(path):
    base = os.path.basename(path)
    base = base.split('.ko')[0]
    return base.replace('-', '_')

def read_ko(path):
    if path.endswith('.xz'):
        return lzma.open(path).read()
    if path.endswith('.zst'):
        return subprocess.run(['zstd', '-dc', path], check=True, capture_output=True).stdout
    with open(path, 'rb') as f:
        return f.read()

def modinfo(data):
    # .modinfo strings are NUL-separated key=value pairs; scanning the whole
    # file is simpler than an ELF parse and finds the same fields.
    info = {}
    for s in data.split(b'\0'):
        for key in (b'depends=', b'softdep=', b'alias=', b'name='):
            if s.startswith(key):
                try:
                    info.setdefault(key[:-1].decode(), []).append(s[len(key):].decode())
                except UnicodeDecodeError:
                    pass
    return info

paths = {}
for d, _, files in os.walk(moddir):
    for f in files:
        if '.ko' in f:
            paths[modname(f)] = os.path.join(d, f)
builtin = set()
try:
    with open(os.path.join(moddir, 'modules.builtin')) as f:
        builtin = {modname(l.strip()) for l in f if l.strip()}
except OSError:
    pass

cache = {}
def info(name):
    if name not in cache:
        cache[name] = modinfo(read_ko(paths[name]))
    return cache[name]

alias_index = None
def resolve_alias(alias):
    # Only algorithm providers carry crypto-* aliases; prefer the portable
    # *_generic implementation over CPU-specific ones.
    global alias_index
    if alias in paths or alias in builtin:
        return alias
    if alias_index is None:
        alias_index = {}
        for n, p in paths.items():
            if '/crypto/' in p:
                for a in info(n).get('alias', []):
                    alias_index.setdefault(a, []).append(n)
    cands = sorted(alias_index.get(alias, []), key=lambda n: (not n.endswith('_generic'), n))
    return cands[0] if cands else None

order, state = [], {}
def visit(name, why):
    if name in builtin:
        return
    if name not in paths:
        sys.exit('build-virtio-initramfs: module %s (needed by %s) not found' % (name, why))
    if state.get(name) == 'done':
        return
    if state.get(name) == 'busy':
        sys.exit('build-virtio-initramfs: dependency cycle at %s' % name)
    state[name] = 'busy'
    mi = info(name)
    for dep in ','.join(mi.get('depends', [])).split(','):
        if dep:
            visit(dep, name)
    for sd in mi.get('softdep', []):
        words = sd.split()
        if words and words[0] == 'pre:':
            for a in words[1:]:
                if a.endswith(':'):
                    break
                r = resolve_alias(a)
                if r:
                    visit(r, name + ' (softdep)')
    state[name] = 'done'
    order.append(name)

for w in wanted:
    visit(w.replace('-', '_'), 'request')
for n in order:
    data = read_ko(paths[n])
    # busybox insmod wants a plain ELF file.
    with open(os.path.join(dest, n + '.ko'), 'wb') as f:
        f.write(data)
    print(n)
PY
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
echo "build-virtio-initramfs: $(du -h "$out" | cut -f1) written" >&2
echo "$out"
