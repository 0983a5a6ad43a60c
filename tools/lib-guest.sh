# Shared by tools/build-default-guest.sh and tools/build-virtio-initramfs.sh
# (sourced, not run): the kernel module resolver, the static busybox and the
# stamp that says which script version built an initramfs.

# guest_modules MODDIR DEST MODULE...
# Copies MODULE... and everything they need from the kernel's module tree
# MODDIR (/lib/modules/<ver>) into DEST as plain .ko files and prints the load
# order, dependencies first, one name a line.
#
# The list is computed, not hand-written: each module's `depends=` field (from
# the .ko's .modinfo strings) is followed to a closure, `softdep=pre:` aliases
# are resolved against the crypto modules' `alias=` fields (ext4 asks for
# crypto-crc32c), and modules in modules.builtin are skipped (nothing to load).
# .ko.xz and .ko.zst are decompressed, since busybox insmod wants plain ELF.
guest_modules() {
	python3 - "$@" <<'PY'
import lzma, os, subprocess, sys

moddir, dest, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]

def modname(path):
    return os.path.basename(path).split('.ko')[0].replace('-', '_')

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
        for key in (b'depends=', b'softdep=', b'alias='):
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
        sys.exit('guest_modules: module %s (needed by %s) not found' % (name, why))
    if state.get(name) == 'done':
        return
    if state.get(name) == 'busy':
        sys.exit('guest_modules: dependency cycle at %s' % name)
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
os.makedirs(dest, exist_ok=True)
for n in order:
    with open(os.path.join(dest, n + '.ko'), 'wb') as f:
        f.write(read_ko(paths[n]))
    print(n)
PY
}

# guest_busybox GUEST_DIR OUT
# Copies a statically linked busybox to OUT: GUEST_DIR/busybox (Debian's
# busybox-static, kept there by build-default-guest.sh), else the host's
# static busybox, else busybox-static fetched with apt-get download.
guest_busybox() {
	local guest=$1 out=$2 c tmp
	for c in "$guest/busybox" /bin/busybox /usr/bin/busybox; do
		if [ -x "$c" ] && file -L "$c" 2>/dev/null | grep -q 'statically linked'; then
			cp "$c" "$out"
			return 0
		fi
	done
	tmp=$(mktemp -d)
	if (cd "$tmp" && apt-get download busybox-static >/dev/null 2>&1 &&
		dpkg-deb -x busybox-static_*.deb bb) && [ -x "$tmp/bb/bin/busybox" ]; then
		cp "$tmp/bb/bin/busybox" "$out"
		rm -rf "$tmp"
		return 0
	fi
	rm -rf "$tmp"
	echo "guest_busybox: no static busybox (install busybox-static)" >&2
	return 1
}

# guest_stamp FILE...
# One line naming what an initramfs was built from: a digest of the scripts
# that made it (so an initramfs left by an older script is rebuilt) and the
# kernel version it carries modules for.
guest_stamp() {
	local kver=$1
	shift
	echo "$(cat "$@" | sha256sum | cut -c1-16) $kver"
}

# guest_power_button ROOT
# Installs into the initramfs tree ROOT what busybox acpid needs to power the
# guest off when the ACPI power button is pressed (`petrel shutdown`, the API's
# Shutdown action): the kernel's button driver reports KEY_POWER on its evdev
# node, acpid maps that to the action PWRF/00000080 and runs that file from
# its config directory /etc/acpi. Start it in /init, after insmod of evdev and
# button, with `acpid -c /etc/acpi -l /dev/null`.
guest_power_button() {
	local root=$1
	mkdir -p "$root/etc/acpi/PWRF" "$root/var/log" "$root/var/run"
	cat > "$root/etc/acpi/PWRF/00000080" <<'PWRF'
#!/bin/sh
# Through the kernel log: the console prints it before powering off, where a
# write to the tty could still sit in the serial port's buffer.
echo "petrel-guest: power button: powering off" > /dev/kmsg
sync
poweroff -f
PWRF
	chmod +x "$root/etc/acpi/PWRF/00000080"
}
