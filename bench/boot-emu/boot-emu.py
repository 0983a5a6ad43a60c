#!/usr/bin/env python3
"""Boot time and a guest compute workload: petrel --accel emu against QEMU TCG.

usage: boot-emu.py PETREL REPO GUEST_DIR [RUNS]

Both boot the same Debian kernel and initramfs (tools/build-default-guest.sh)
with the same command line. Boot time is process start to the guest's
"Petrel default guest" banner, the median of RUNS (default 3) boots each. The
workload, in the last boot of each, is `head -c 64MiB /dev/zero | sha256sum`
timed by the guest's `time` and by the host between shell markers. QEMU is the
peer only: its half is skipped with a message when it is not installed.
"""
import os
import re
import shutil
import statistics
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "tests", "linux"))
from guestctl import BANNER, Guest, GuestError, ensure_guest  # noqa: E402

CMDLINE = "console=ttyS0 panic=-1 quiet"
WORKLOAD = "time sh -c 'head -c 67108864 /dev/zero | sha256sum'"
# sha256 of 64 MiB of zeros, to check the workload really ran.
ZERO64M_SHA = "3b6a07d0d404fab4e23b6d34bc6696a6a312dd92821332385e5af7c01c421351"
TIMEOUT = 600


def guest_seconds(out):
    m = re.search(r"real\s+(?:(\d+)m\s*)?([\d.]+)s", out)
    return int(m.group(1) or 0) * 60 + float(m.group(2)) if m else None


def measure(name, argv, runs):
    boots, work = [], None
    for i in range(runs):
        g = Guest(argv)
        try:
            g.expect(BANNER, TIMEOUT)
            boots.append(g.elapsed())
            print("  %s boot %d: %.2f s to the banner" % (name, i + 1, boots[-1]), flush=True)
            if i == runs - 1:
                t = time.monotonic()
                out, st = g.run(WORKLOAD, TIMEOUT)
                host = time.monotonic() - t
                if st != 0 or ZERO64M_SHA not in out:
                    raise GuestError("%s: workload failed (status %d): %r" % (name, st, out))
                work = (guest_seconds(out), host)
                print("  %s sha256sum 64 MiB: guest time %.2f s, host %.2f s" %
                      (name, work[0] or -1, host), flush=True)
            g.send("poweroff -f\n")
            try:
                g.wait_exit(60)
            except GuestError:
                pass
        except GuestError:
            sys.stdout.write(g.stderr_text())
            raise
        finally:
            g.kill()
    return statistics.median(boots), work


def main():
    if len(sys.argv) not in (4, 5):
        print(__doc__)
        return 2
    petrel, repo, guest_dir = sys.argv[1:4]
    runs = int(sys.argv[4]) if len(sys.argv) == 5 else 3
    ensure_guest(repo, guest_dir)
    kernel = os.path.join(guest_dir, "vmlinuz")
    initrd = os.path.join(guest_dir, "initramfs.cpio.gz")
    kver = open(os.path.join(guest_dir, "kernel-version")).read().strip()
    print("boot-emu: Linux %s, busybox initramfs, 512 MiB, 1 vCPU, cmdline %r, %d boots each"
          % (kver, CMDLINE, runs), flush=True)

    p_argv = [petrel, "run", "--accel", "emu", "--mem", "512", "--kernel", kernel,
              "--initrd", initrd, "--cmdline", CMDLINE, "--serial", "stdio"]
    print("$ " + " ".join(p_argv), flush=True)
    p_boot, p_work = measure("petrel", p_argv, runs)

    qemu = shutil.which("qemu-system-x86_64")
    q_boot = q_work = None
    if not qemu:
        print("boot-emu: qemu-system-x86_64 not installed: skipping the peer")
    else:
        q_argv = [qemu, "-accel", "tcg", "-m", "512", "-nographic", "-no-reboot",
                  "-kernel", kernel, "-initrd", initrd, "-append", CMDLINE]
        print("$ " + " ".join(q_argv), flush=True)
        q_boot, q_work = measure("qemu", q_argv, runs)

    print("\nboot-emu results (median of %d boots; workload in the last boot):" % runs)
    print("%-34s %10s %10s %8s" % ("", "petrel", "qemu-tcg", "ratio"))

    def row(label, a, b):
        if b is None or a is None:
            print("%-34s %9.2fs %10s %8s" % (label, a if a is not None else -1, "-", "-"))
        else:
            print("%-34s %9.2fs %9.2fs %7.2fx" % (label, a, b, a / b))
    row("boot to shell banner", p_boot, q_boot)
    row("sha256sum 64 MiB (guest time)", p_work[0], q_work[0] if q_work else None)
    row("sha256sum 64 MiB (host, markers)", p_work[1], q_work[1] if q_work else None)
    print("(ratio = petrel / qemu; above 1 means petrel is slower)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except GuestError as e:
        print("boot-emu: FAILED: %s" % e)
        sys.exit(1)
