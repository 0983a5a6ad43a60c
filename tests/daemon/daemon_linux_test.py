#!/usr/bin/env python3
"""petreld with a Linux guest: the Debian default guest (docs/default-guest.md)
under --accel emu, created through the daemon and driven over its console
socket (ring replay, input), balloon target through PATCH /vms/{vm}/balloon
(the guest's virtio_balloon inflates to it),
Reboot (guest reset in the same process), and the Shutdown action (the ACPI
power button, answered by the guest's acpid) -> shutoff, status 0.

usage: daemon_linux_test.py PETRELD PETREL GUEST_DIR
$PETREL_GUEST_DIR, when set, replaces GUEST_DIR. Exits 77 (skip) when the
directory has no vmlinuz/initramfs (build it with tools/build-default-guest.sh).
"""
import json
import os
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemon_test as dt  # noqa: E402  (Daemon, UnixConnection, check)

PETRELD, PETREL, GUEST = [os.path.abspath(a) for a in sys.argv[1:4]]
GUEST = os.environ.get("PETREL_GUEST_DIR") or GUEST
KERNEL = os.path.join(GUEST, "vmlinuz")
INITRD = os.path.join(GUEST, "initramfs.cpio.gz")
BANNER = b"Petrel default guest"
PROMPT = b"/ # "


class Console:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.s.settimeout(0.5)
        self.buf = b""

    def expect(self, want, timeout, start=0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if want in self.buf[start:]:
                return True
            try:
                d = self.s.recv(65536)
                if not d:
                    return want in self.buf[start:]
                self.buf += d
            except socket.timeout:
                pass
        return want in self.buf[start:]

    def send(self, text):
        self.s.sendall(text)


def main():
    if not (os.access(KERNEL, os.R_OK) and os.access(INITRD, os.R_OK)):
        print("SKIP: no default guest in %s (tools/build-default-guest.sh %s)" % (GUEST, GUEST))
        return 77
    dt.PETRELD, dt.PETREL = PETRELD, PETREL
    tmp = tempfile.mkdtemp(prefix="petreld-linux-")
    d = dt.Daemon(tmp)
    d.start()
    check = dt.check
    try:
        t0 = time.time()
        code, v = d.req("POST", "/vms", {"name": "deb", "kernel": KERNEL, "initrd": INITRD,
                                         "cmdline": "console=ttyS0 panic=-1", "accel": "emu",
                                         "mem_mib": 256, "balloon": True})
        check(code == 201 and v["state"] == "running", "create %r" % (v,))
        con = Console(v["console_socket"])
        check(con.expect(PROMPT, 180), "shell prompt on the console")
        print("boot to prompt %.1f s" % (time.time() - t0), flush=True)
        # A second client replaces the first and gets the replay.
        con2 = Console(v["console_socket"])
        check(con2.expect(BANNER, 5), "a new console client gets the boot log replayed")
        con.s.close()
        con = con2
        mark = len(con.buf)
        con.send(b"echo hello-$((6*7))\n")
        check(con.expect(b"hello-42", 20, mark), "input reaches the guest")

        # Balloon: ask for 64 MiB back.
        r = d.req("PATCH", "/vms/deb/balloon", {"amount_mib": 64})
        check(r[0] == 204, "PATCH balloon %r" % (r,))
        dt.fault(d.req("PATCH", "/vms/deb/balloon", {"amount_mib": 100000}), 400,
                 "balloon beyond the guest's memory")
        st = d.req("GET", "/vms/deb/balloon/statistics")[1]
        check(st.get("target_mib") == 64 and st.get("target_pages") == 64 * 256,
              "balloon target through the daemon: %r" % st)
        # The default guest loads virtio_balloon: the driver inflates to it.
        end = time.time() + 30
        while time.time() < end and st.get("actual_mib") != 64:
            time.sleep(0.5)
            st = d.req("GET", "/vms/deb/balloon/statistics")[1]
        check(st.get("actual_mib") == 64, "the guest's driver inflated the balloon: %r" % st)

        code, m = d.req("GET", "/vms/deb/metrics")
        check(code == 200 and m["cpu_time_ms"] > 0 and m["rss_kib"] > 0 and
              sum(m["vcpu_exits"].values()) > 0, "metrics %r" % m)

        # Reboot: the same process boots the guest again.
        pid = d.req("GET", "/vms/deb")[1]["pid"]
        mark = len(con.buf)
        check(d.req("PUT", "/vms/deb/actions", {"action_type": "Reboot"})[0] == 204, "Reboot")
        check(con.expect(BANNER, 180, mark) and con.expect(PROMPT, 60, mark),
              "the guest booted again after Reboot")
        st = d.req("GET", "/vms/deb")[1]
        check(st["state"] == "running" and st["pid"] == pid, "same process after Reboot")

        # The power button: the guest's acpid powers it off; shutoff, status 0.
        check(d.req("PUT", "/vms/deb/actions", {"action_type": "Shutdown"})[0] == 204,
              "Shutdown")
        st = dt.wait_state(d, "deb", "shutoff", 60)
        check(st["state"] == "shutoff" and st["exit"]["status"] == 0,
              "Shutdown -> shutoff, status 0: %r" % st)
        code, log = d.req("GET", "/vms/deb/logs")
        check(code == 200 and '"event":"exit"' in log, "exit in the VM's log")
        check(d.req("DELETE", "/vms/deb")[0] == 204, "destroy")
        print("total %.1f s" % (time.time() - t0), flush=True)
    finally:
        try:
            for v in d.req("GET", "/vms")[1]:
                d.req("DELETE", "/vms/" + v["name"])
        except Exception:
            pass
        if d.proc and d.proc.poll() is None:
            d.stop()
        if dt.failures:
            print("--- petreld log ---")
            print(open(os.path.join(tmp, "petreld.log")).read()[-4000:])
        shutil.rmtree(tmp, ignore_errors=True)
    if dt.failures:
        print("%d failure(s)" % len(dt.failures))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
