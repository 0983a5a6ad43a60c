"""Shared by bench/blk and bench/net: one Linux guest with Petrel's virtio
devices, booted under petrel --accel emu or under QEMU TCG with the same
kernel, initramfs (tools/build-virtio-initramfs.sh), command line and
backends, and driven over its serial console (tests/linux/guestctl.py).

The benchmark tools (fio, iperf3) are the host's Debian binaries. They are
not in the initramfs (fio's library closure is ~80 MiB, which the guest would
have to unpack before the first prompt); they travel on a read-only ext4
disk built here with `mkfs.ext4 -d`, holding each binary, every library `ldd`
names and the dynamic loader. The guest mounts it on /t and runs a tool as
`/t/ld.so --library-path /t/lib /t/bin/TOOL`, so nothing needs installing in
the guest and no chroot is needed.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(HERE, "..", "linux"))
from guestctl import Guest, GuestError  # noqa: E402,F401

SKIP = 77
CMDLINE = "console=ttyS0 panic=-1 quiet"
MEM_MB = 512
READY = "virtio-initramfs: ready"
BOOT_TIMEOUT = float(os.environ.get("PETREL_BOOT_TIMEOUT", "300"))


def skip(msg):
    print("SKIP: " + msg, flush=True)
    sys.exit(SKIP)


def build_guest(srcdir, guest_dir):
    """Returns (kernel, virtio initramfs); exits 77 when they cannot be built."""
    r = subprocess.run([os.path.join(srcdir, "tools", "build-virtio-initramfs.sh"), guest_dir],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        skip("cannot build the virtio guest here: " + r.stderr.strip()[-500:])
    return os.path.join(guest_dir, "vmlinuz"), r.stdout.strip().splitlines()[-1]


def _closure(binary):
    """The shared libraries and the loader `ldd` names for binary."""
    out = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    libs, loader = [], None
    for line in out.splitlines():
        parts = line.split()
        if "=>" in parts:
            path = parts[parts.index("=>") + 1]
            if path.startswith("/"):
                libs.append(path)
        elif parts and parts[0].startswith("/") and "ld-linux" in parts[0]:
            loader = parts[0]
    return libs, loader


def tools_image(guest_dir, tools):
    """A read-only ext4 image with the named host tools; rebuilt when a tool
    is newer than it. Exits 77 when a tool is not installed."""
    paths = []
    for t in tools:
        p = shutil.which(t)
        if not p:
            skip("%s is not installed on the host (Debian package %s); it runs inside the "
                 "guest" % (t, t))
        paths.append(os.path.realpath(p))
    img = os.path.join(guest_dir, "bench-tools-%s.img" % "-".join(tools))
    if os.path.exists(img) and all(os.path.getmtime(img) > os.path.getmtime(p) for p in paths):
        return img
    with tempfile.TemporaryDirectory(prefix="petrel-bench-tools-") as root:
        os.mkdir(os.path.join(root, "bin"))
        os.mkdir(os.path.join(root, "lib"))
        loader = None
        for t, p in zip(tools, paths):
            shutil.copy2(p, os.path.join(root, "bin", t))
            libs, ld = _closure(p)
            loader = loader or ld
            for lib in libs:
                dst = os.path.join(root, "lib", os.path.basename(lib))
                if not os.path.exists(dst):
                    shutil.copy2(os.path.realpath(lib), dst)
        if not loader:
            skip("cannot find the dynamic loader of %s" % paths[0])
        shutil.copy2(os.path.realpath(loader), os.path.join(root, "ld.so"))
        size = sum(os.path.getsize(os.path.join(d, f))
                   for d, _, fs in os.walk(root) for f in fs)
        mb = size // (1 << 20) * 5 // 4 + 16
        tmp = img + ".tmp"
        with open(tmp, "wb") as f:
            f.truncate(mb << 20)
        r = subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "petrel-tools", "-d", root, tmp],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            os.unlink(tmp)
            skip("mkfs.ext4 -d failed: " + r.stdout.strip()[-300:])
        os.rename(tmp, img)
    return img


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def petrel_argv(petrel, kernel, initrd, disks, hostfwds):
    """disks: [(path, readonly)]; hostfwds: [(host port, guest port)]."""
    argv = [petrel, "run", "--accel", "emu", "--mem", str(MEM_MB), "--kernel", kernel,
            "--initrd", initrd, "--cmdline", CMDLINE, "--serial", "stdio"]
    for path, ro in disks:
        argv += ["--disk", path + (",ro" if ro else "")]
    if hostfwds:
        argv += ["--net", "user" + "".join(",hostfwd=tcp::%d-:%d" % hg for hg in hostfwds)]
    return argv


def qemu_argv(qemu, kernel, initrd, disks, hostfwds):
    """The same machine for QEMU TCG: virtio-pci block and net, raw files
    through the host page cache (QEMU's default cache=writeback, like
    Petrel's buffered raw backend), user networking with the same forwards."""
    argv = [qemu, "-accel", "tcg", "-m", str(MEM_MB), "-smp", "1", "-nodefaults",
            "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
            "-kernel", kernel, "-initrd", initrd, "-append", CMDLINE]
    for i, (path, ro) in enumerate(disks):
        argv += ["-drive", "file=%s,format=raw,if=none,id=d%d%s" % (path, i,
                                                                  ",readonly=on" if ro else ""),
                 "-device", "virtio-blk-pci,drive=d%d,disable-legacy=on" % i]
    if hostfwds:
        fw = "".join(",hostfwd=tcp:127.0.0.1:%d-:%d" % hg for hg in hostfwds)
        argv += ["-netdev", "user,id=n0" + fw,
                 "-device", "virtio-net-pci,netdev=n0,disable-legacy=on"]
    return argv


def peers(petrel):
    """[(name, argv builder)]: petrel always, QEMU TCG when installed;
    $PETREL_BENCH_ONLY=NAME keeps one of them (e.g. petrel, while profiling)."""
    out = [("petrel", lambda *a: petrel_argv(petrel, *a))]
    qemu = shutil.which("qemu-system-x86_64")
    if qemu:
        out.append(("qemu-tcg", lambda *a: qemu_argv(qemu, *a)))
    else:
        print("qemu-system-x86_64 not installed (Debian package qemu-system-x86): "
              "skipping the peer", flush=True)
    only = os.environ.get("PETREL_BENCH_ONLY")
    if only:
        out = [p for p in out if p[0] == only]
    return out


def boot(argv):
    """Boots to the initramfs shell and mounts the tools disk (the read-only
    vdX) on /t. Returns the Guest."""
    print("$ " + " ".join(argv), flush=True)
    g = Guest(argv)
    try:
        g.expect(READY, BOOT_TIMEOUT)
        print("  booted in %.1f s" % g.elapsed(), flush=True)
        out, st = g.run("for d in /sys/block/vd*; do [ $(cat $d/ro) = 1 ] && echo ${d##*/}; "
                        "done | head -1", 30)
        dev = out.strip()
        if not dev:
            raise GuestError("no read-only disk (the tools image) in the guest")
        out, st = g.run("mkdir -p /t && mount -t ext4 -o ro /dev/%s /t" % dev, 60)
        if st != 0:
            raise GuestError("cannot mount the tools disk: %r" % out)
    except GuestError:
        sys.stdout.write(g.stderr_text()[-3000:])
        g.kill()
        raise
    return g


def tool(name):
    """The guest command line that runs a tool from the tools disk."""
    return "/t/ld.so --library-path /t/lib /t/bin/%s" % name


def shutdown(g):
    g.send("poweroff -f\n")
    try:
        g.wait_exit(60)
    except GuestError:
        pass
    g.kill()


def ratio_table(title, rows, peer_names):
    """rows: [(label, unit, {peer: value}, higher_is_better)]. The ratio is
    petrel / qemu for every row, and the note says which way is better."""
    print("\n%s" % title)
    print("%-36s %14s %14s %8s" % ("", peer_names[0], peer_names[1] if len(peer_names) > 1
                                   else "-", "ratio"))
    for label, unit, vals, higher in rows:
        a = vals.get("petrel")
        b = vals.get("qemu-tcg")
        sa = "%.1f %s" % (a, unit) if a is not None else "-"
        sb = "%.1f %s" % (b, unit) if b is not None else "-"
        r = "%.2fx" % (a / b) if a is not None and b else "-"
        print("%-36s %14s %14s %8s  (%s is better)" % (label, sa, sb, r,
                                                       "higher" if higher else "lower"))
    print("(ratio = petrel / qemu-tcg)", flush=True)
