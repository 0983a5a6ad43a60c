#!/usr/bin/env python3
"""The Debian default guest (Linux) through petreld and the petrel verbs.

usage: cli_linux.py PETREL PETRELD REPO GUEST_DIR

$PETREL_GUEST_DIR overrides GUEST_DIR. Creates the guest from a config file
(--accel emu), waits for its banner with `petrel console VM </dev/null`, runs
a shell command through `petrel console` on a pipe, reboots it with `petrel
reboot` (a second banner in the console's ring), then `petrel shutdown`
without --force: the guest's acpid answers the ACPI power button with a
power-off, so the VM must reach shutoff with status 0 (the timeout and --force
paths are tested with a tiny guest in cli_test.py). Exits 77 when petreld is
not built or the guest cannot be built here.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
PETREL, PETRELD, REPO, GUEST_DIR = sys.argv[1:5]
GUEST_DIR = os.environ.get("PETREL_GUEST_DIR") or GUEST_DIR
sys.path.insert(0, os.path.join(REPO, "tests", "linux"))
from guestctl import BANNER, ensure_guest  # noqa: E402

BOOT_TIMEOUT = int(os.environ.get("PETREL_BOOT_TIMEOUT", "240"))
failures = []


def check(ok, what, detail=""):
    print(("ok   " if ok else "FAIL ") + what + ("" if ok else ": " + detail), flush=True)
    if not ok:
        failures.append(what)
    return ok


def petrel(sock, *args, stdin_text=None, timeout=60):
    p = subprocess.run([PETREL] + list(args), capture_output=True, text=True,
                       env=dict(os.environ, PETREL_SOCKET=sock), timeout=timeout,
                       input=stdin_text if stdin_text is not None else "")
    return p.returncode, p.stdout, p.stderr


def console_text(sock, name):
    return petrel(sock, "console", name)[1]


def wait_banners(sock, name, count, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        out = console_text(sock, name)
        if len(BANNER.findall(out.encode(errors="replace"))) >= count:
            return out
        time.sleep(1)
    return None


def main():
    if not os.access(PETRELD, os.X_OK):
        print("SKIP: %s has not been built" % PETRELD)
        return 77
    ensure_guest(REPO, GUEST_DIR)
    tmp = tempfile.mkdtemp(prefix="petrel-cli-linux-")
    sock = os.path.join(tmp, "petreld.sock")
    log = open(os.path.join(tmp, "petreld.log"), "w")
    d = subprocess.Popen([PETRELD, "--socket", sock, "--state-dir", os.path.join(tmp, "state"),
                          "--petrel", PETREL], stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        end = time.monotonic() + 10
        while not os.path.exists(sock) and time.monotonic() < end:
            time.sleep(0.05)
        cfg = os.path.join(tmp, "deb.json")
        with open(cfg, "w") as f:
            json.dump({"name": "deb", "kernel": os.path.join(GUEST_DIR, "vmlinuz"),
                       "initrd": os.path.join(GUEST_DIR, "initramfs.cpio.gz"),
                       "cmdline": "console=ttyS0 panic=-1", "accel": "emu", "mem_mib": 512}, f)
        t0 = time.monotonic()
        rc, out, err = petrel(sock, "create", cfg)
        if not check(rc == 0, "create the Debian guest from a config file", err):
            return 1
        out = wait_banners(sock, "deb", 1, BOOT_TIMEOUT)
        if not check(out is not None, "banner on the console within %d s" % BOOT_TIMEOUT,
                     repr(console_text(sock, "deb")[-500:])):
            return 1
        print("     banner after %.1f s" % (time.monotonic() - t0))
        kver = BANNER.search(out.encode(errors="replace")).group(1).decode()
        # The shell may take a moment after the banner: retry the command.
        got = ""
        end = time.monotonic() + 60
        while time.monotonic() < end and "marker-42" not in got:
            rc, got, err = petrel(sock, "console", "deb",
                                  stdin_text="uname -r; echo marker-$((6*7))\n")
            time.sleep(0.5)
        # After the echoed command line: uname's answer, then the marker.
        after = got[got.rfind("echo marker-$((6*7))") + 20:]
        check(re.search(re.escape(kver) + r"\s+marker-42", after) is not None,
              "a shell command through petrel console on a pipe", repr(got[-300:]))
        rc, out, err = petrel(sock, "list")
        row = [ln.split() for ln in out.splitlines() if ln.startswith("deb ")]
        check(rc == 0 and row and row[0][2:5] == ["512", "1", "running"], "list shows the guest",
              out)
        rc, out, err = petrel(sock, "reboot", "deb")
        check(rc == 0, "reboot", err)
        t0 = time.monotonic()
        out = wait_banners(sock, "deb", 2, BOOT_TIMEOUT)
        check(out is not None, "the guest boots again after reboot",
              repr(console_text(sock, "deb")[-500:]))
        if out:
            print("     second banner after %.1f s" % (time.monotonic() - t0))
        t0 = time.monotonic()
        rc, out, err = petrel(sock, "shutdown", "--timeout", "60", "deb", timeout=90)
        check(rc == 0 and "shut off" in out, "shutdown: the guest powers off on the ACPI button",
              "%d %r %r" % (rc, out, err))
        print("     shut off after %.1f s" % (time.monotonic() - t0))
        rc, out, err = petrel(sock, "list", "--json")
        vm = [v for v in (json.loads(out) if rc == 0 else []) if v.get("name") == "deb"]
        check(vm and vm[0].get("state") == "shutoff" and vm[0].get("exit", {}).get("status") == 0,
              "list: shutoff, exit status 0", out)
    finally:
        try:
            petrel(sock, "destroy", "deb")
        except Exception:  # noqa: BLE001 - cleanup goes on
            pass
        d.send_signal(signal.SIGTERM)
        try:
            d.wait(10)
        except subprocess.TimeoutExpired:
            d.kill()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
