#!/usr/bin/env python3
"""Linux acceptance tests: the Debian default guest under --accel emu.

usage: linux_accept.py shell|reboot|smp|power PETREL REPO GUEST_DIR

shell   one boot through `petrel run` with no --kernel ($PETREL_GUEST_DIR):
        uname -r, sha256sum of a known file, an awk compute loop, then
        `poweroff -f` must end petrel with status 0.
reboot  `reboot -f` must restart the guest (the banner appears twice), then
        `poweroff -f` ends it with status 0.
smp     --cpus 2: the guest must count two processors.
power   with a disk, user networking, rng and balloon, and --api-sock: /init
        loaded its modules (no failure) and started acpid, each virtio device
        is bound to its driver (the disk's size is read back), then the
        Firecracker API's PUT /actions Shutdown (the ACPI power button) must
        power the guest off: petrel exits 0 after the handler's log line.
Exits 77 (skip) when the default guest cannot be built on this host.
"""
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guestctl import BANNER, Guest, GuestError, ensure_guest  # noqa: E402

BOOT_TIMEOUT = 420  # a loaded 2-core host has taken 40 s; leave a wide margin
CMDLINE = "console=ttyS0 panic=-1"
failures = []


def check(cond, what):
    # A newline first: the guest's console log may end mid-line (its prompt).
    print("\n%s: %s" % ("ok" if cond else "FAIL", what), flush=True)
    if not cond:
        failures.append(what)


def host_test_file_digest(guest_dir):
    """sha256 of /etc/petrel-test-file as packed into the initramfs."""
    gz = subprocess.run(["gzip", "-dc", os.path.join(guest_dir, "initramfs.cpio.gz")],
                        stdout=subprocess.PIPE, check=True).stdout
    data = subprocess.run(["cpio", "-i", "--quiet", "--to-stdout", "etc/petrel-test-file"],
                          input=gz, stdout=subprocess.PIPE, check=True).stdout
    if len(data) != 65536:
        raise GuestError("etc/petrel-test-file in the initramfs is %d bytes" % len(data))
    return hashlib.sha256(data).hexdigest()


def awk_expected(n, mod):
    s = 0
    for i in range(1, n + 1):
        s = (s + i * i) % mod
    return s


def boot(petrel, guest_dir, extra, default_guest=False):
    env = dict(os.environ)
    if default_guest:
        # `petrel run` with no --kernel: the default-guest path of the CLI.
        env["PETREL_GUEST_DIR"] = guest_dir
        argv = [petrel, "run", "--accel", "emu"] + extra
    else:
        argv = [petrel, "run", "--accel", "emu", "--mem", "512",
                "--kernel", os.path.join(guest_dir, "vmlinuz"),
                "--initrd", os.path.join(guest_dir, "initramfs.cpio.gz"),
                "--cmdline", CMDLINE, "--serial", "stdio"] + extra
    print("$ " + " ".join(argv), flush=True)
    g = Guest(argv, env=env, log=sys.stdout)
    m = g.expect(BANNER, BOOT_TIMEOUT)
    print("\n[banner after %.1f s]" % g.elapsed(), flush=True)
    return g, m


def poweroff(g):
    g.send("poweroff -f\n")
    rc = g.wait_exit(120)
    check(rc == 0, "poweroff -f ends petrel with status 0 (got %s)" % rc)


def test_shell(petrel, guest_dir):
    kver = open(os.path.join(guest_dir, "kernel-version")).read().strip()
    g, m = boot(petrel, guest_dir, [], default_guest=True)
    try:
        check(m.group(1).decode() == kver, "banner names kernel %s" % kver)
        out, st = g.run("uname -r")
        check(st == 0 and out.strip() == kver, "uname -r is %s (got %r)" % (kver, out))
        want = host_test_file_digest(guest_dir)
        out, st = g.run("sha256sum /etc/petrel-test-file")
        check(st == 0 and out.split()[:1] == [want],
              "sha256sum /etc/petrel-test-file is %s (got %r)" % (want, out))
        # Integer arithmetic only: busybox awk has no sqrt worth trusting here.
        out, st = g.run("awk 'BEGIN{s=0;for(i=1;i<=100000;i++)s=(s+i*i)%1000003;print s}'",
                        300)
        want = awk_expected(100000, 1000003)
        check(st == 0 and out.strip() == str(want), "awk loop gives %d (got %r)" % (want, out))
        out, st = g.run("cat /proc/cmdline")
        check(CMDLINE in out, "default cmdline %r (got %r)" % (CMDLINE, out))
        out, st = g.run("awk '/MemTotal/{print $2}' /proc/meminfo")
        kib = int(out.strip()) if out.strip().isdigit() else 0
        check(400 * 1024 < kib <= 512 * 1024, "default 512 MiB of RAM (MemTotal %d KiB)" % kib)
        out, st = g.run("false")
        check(st == 1, "a failing command's status reaches the host (got %d)" % st)
        poweroff(g)
    finally:
        g.kill()


def test_reboot(petrel, guest_dir):
    g, _ = boot(petrel, guest_dir, [])
    try:
        # The second boot should cost what the first did; waiting three times
        # as long (at least 3 min) keeps a hung reboot from eating the suite.
        first = g.elapsed()
        start = g.mark()
        g.send("reboot -f\n")
        g.expect(BANNER, max(180, 3 * first), start)
        print("\n[second banner after %.1f s]" % g.elapsed(), flush=True)
        check(True, "reboot -f restarts the guest (banner seen twice)")
        out, st = g.run("echo alive")
        check(st == 0 and out.strip() == "alive", "shell answers after the reboot")
        poweroff(g)
    finally:
        g.kill()


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def api_put(sock, path, body):
    c = UnixConnection(sock)
    try:
        c.request("PUT", path, json.dumps(body), {"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        c.close()


# /init's summary line before the banner (tools/build-default-guest.sh).
INIT_LINE = re.compile(rb"init: (\d+) modules loaded, power button: ([^;\r\n]*)(; FAILED:[^\r\n]*)?")
# Device and driver for each --option of the power test, as sysfs names them.
VIRTIO_DRIVERS = {"virtio_blk", "virtio_net", "virtio_rng", "virtio_balloon"}
DISK_SECTORS = 2 * 4096  # a 4 MiB disk


def test_power(petrel, guest_dir):
    tmp = tempfile.mkdtemp(prefix="petrel-linux-power-")
    disk = os.path.join(tmp, "disk.img")
    with open(disk, "wb") as f:
        f.truncate(DISK_SECTORS * 512)
    sock = os.path.join(tmp, "api.sock")
    g = None
    try:
        g, _ = boot(petrel, guest_dir, ["--api-sock", sock, "--disk", disk, "--net", "user",
                                        "--rng", "--balloon"])
        with g.cv:
            m = INIT_LINE.search(bytes(g.buf))
        check(m is not None and m.group(2) == b"acpid" and m.group(3) is None,
              "/init loaded its modules and started acpid (%r)" %
              (m.group(0).decode(errors="replace") if m else None))
        out, st = g.run("for d in /sys/bus/virtio/devices/*/driver; do "
                        "[ -e $d ] && basename $(readlink $d); done; true")
        bound = set(out.split())
        check(bound == VIRTIO_DRIVERS, "virtio devices bound to %s (got %s)" %
              (sorted(VIRTIO_DRIVERS), sorted(bound)))
        out, st = g.run("cat /sys/block/vda/size")
        check(out.strip() == str(DISK_SECTORS), "/dev/vda has %d sectors (got %r)" %
              (DISK_SECTORS, out.strip()))
        out, st = g.run("pidof acpid")
        check(st == 0 and out.strip().isdigit(), "acpid runs (pidof: %r)" % out.strip())
        start = g.mark()
        t0 = time.monotonic()
        code, body = api_put(sock, "/actions", {"action_type": "Shutdown"})
        check(code == 204, "PUT /actions Shutdown answers 204 (got %d %s)" % (code, body))
        rc = g.wait_exit(60)
        print("\n[powered off %.1f s after the button]" % (time.monotonic() - t0), flush=True)
        check(rc == 0, "the power button ends petrel with status 0 (got %s)" % rc)
        try:
            g.expect(rb"petrel-guest: power button: powering off", 10, start)
            check(True, "the guest's power-button handler ran")
        except GuestError as e:
            check(False, "the guest's power-button handler ran: %s" % e)
    finally:
        if g:
            g.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def test_smp(petrel, guest_dir):
    g, m = boot(petrel, guest_dir, ["--cpus", "2"])
    try:
        check(m.group(2) == b"2", "banner counts 2 CPUs (got %s)" % m.group(2).decode())
        out, st = g.run("grep -c ^processor /proc/cpuinfo")
        check(out.strip() == "2", "/proc/cpuinfo lists 2 processors (got %r)" % out)
        out, st = g.run("cat /sys/devices/system/cpu/online")
        check(out.strip() == "0-1", "both CPUs online (got %r)" % out)
        poweroff(g)
    finally:
        g.kill()


def main():
    tests = {"shell": test_shell, "reboot": test_reboot, "smp": test_smp, "power": test_power}
    if len(sys.argv) != 5 or sys.argv[1] not in tests:
        print(__doc__)
        return 2
    what, petrel, repo, guest_dir = sys.argv[1:]
    ensure_guest(repo, guest_dir)
    try:
        tests[what](petrel, guest_dir)
    except GuestError as e:
        check(False, str(e))
    if failures:
        print("\n%d check(s) failed: %s" % (len(failures), "; ".join(failures)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
