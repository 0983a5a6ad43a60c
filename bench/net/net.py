#!/usr/bin/env python3
"""virtio-net through user-mode networking: petrel --accel emu against QEMU TCG.

usage: net.py PETREL REPO GUEST_DIR [SECONDS]

Both boot the same Debian kernel and virtio initramfs with the same command
line, 512 MiB and one vCPU, virtio-net on virtio-pci with user-mode
networking (Petrel: libslirp; QEMU: -netdev user, also libslirp) and two
host port forwards, plus the read-only tools disk
(tests/virtio-linux/benchguest.py). Measured from the host through the
forwards:
  - TCP throughput: iperf3 (the host's Debian binary) serves in the guest,
    the host's iperf3 is the client for SECONDS (default 6), host to guest
    and, with -R, guest to host;
  - TCP latency: busybox `nc -ll -e /bin/cat` echoes in the guest; the host
    sends one byte and waits for it back, ROUNDS times after a warm-up, with
    TCP_NODELAY; median and 99th percentile round trip.
QEMU is the peer only: skipped with a message when not installed.
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "tests", "virtio-linux"))
import benchguest as bg  # noqa: E402

IPERF_PORT = 5201
ECHO_PORT = 7000
ROUNDS = 1000
WARMUP = 50


def iperf(iperf3, port, seconds, reverse):
    argv = [iperf3, "-c", "127.0.0.1", "-p", str(port), "-t", str(seconds), "-J"]
    if reverse:
        argv.append("-R")
    last = ""
    for _ in range(3):  # the guest server may still be starting
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=seconds * 5 + 60)
        last = r.stdout
        try:
            j = json.loads(r.stdout)
        except ValueError:
            j = {}
        # A run cut short (the guest's server between tests) may lack the sum: retry.
        if r.returncode == 0 and "sum_received" in j.get("end", {}):
            # The receiver's count: what really crossed the guest's stack.
            return j["end"]["sum_received"]["bits_per_second"] / 1e6
        time.sleep(3)
    raise bg.GuestError("iperf3 %s failed: %s" % ("-R" if reverse else "", last[-600:]))


def echo_rtt(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(30)
    rtts = []
    try:
        for i in range(WARMUP + ROUNDS):
            t = time.perf_counter()
            s.sendall(b"x")
            if s.recv(16) != b"x":
                raise bg.GuestError("echo: wrong or no answer in round %d" % i)
            if i >= WARMUP:
                rtts.append((time.perf_counter() - t) * 1e6)
    finally:
        s.close()
    rtts.sort()
    return statistics.median(rtts), rtts[int(len(rtts) * 0.99) - 1]


def measure(argv, iperf3, fwd_iperf, fwd_echo, seconds):
    g = bg.boot(argv)
    try:
        out, st = g.run("ifconfig eth0 | grep 'inet addr'", 30)
        if "10.0.2." not in out:
            raise bg.GuestError("eth0 has no DHCP address: %r" % out)
        g.run("%s -s -p %d >/tmp/iperf.log 2>&1 & :" % (bg.tool("iperf3"), IPERF_PORT), 30)
        g.run("nc -ll -p %d -e /bin/cat >/dev/null 2>&1 & :" % ECHO_PORT, 30)
        time.sleep(3)
        res = {}
        res["h2g"] = iperf(iperf3, fwd_iperf, seconds, False)
        print("  TCP host -> guest  %8.1f Mbit/s" % res["h2g"], flush=True)
        res["g2h"] = iperf(iperf3, fwd_iperf, seconds, True)
        print("  TCP guest -> host  %8.1f Mbit/s" % res["g2h"], flush=True)
        res["rtt50"], res["rtt99"] = echo_rtt(fwd_echo)
        print("  TCP 1-byte echo    median %.0f us, p99 %.0f us (%d rounds)"
              % (res["rtt50"], res["rtt99"], ROUNDS), flush=True)
        return res
    finally:
        bg.shutdown(g)


def main():
    if len(sys.argv) not in (4, 5):
        print(__doc__)
        return 2
    petrel, repo, guest_dir = sys.argv[1:4]
    seconds = int(sys.argv[4]) if len(sys.argv) == 5 else 6
    iperf3 = shutil.which("iperf3")
    if not iperf3:
        bg.skip("iperf3 is not installed on the host (Debian package iperf3)")
    kernel, initrd = bg.build_guest(repo, guest_dir)
    tools = bg.tools_image(guest_dir, ["iperf3"])
    kver = open(os.path.join(guest_dir, "kernel-version")).read().strip()
    print("bench net: Linux %s, %d MiB, 1 vCPU, user networking with host forwards, "
          "iperf3 %d s per direction" % (kver, bg.MEM_MB, seconds), flush=True)
    results = {}
    peers = bg.peers(petrel)
    for name, mk in peers:
        fi, fe = bg.free_port(), bg.free_port()
        argv = mk(kernel, initrd, [(tools, True)], [(fi, IPERF_PORT), (fe, ECHO_PORT)])
        results[name] = measure(argv, iperf3, fi, fe, seconds)

    def vals(k):
        return {p: results[p][k] for p in results}
    rows = [("TCP host -> guest (iperf3)", "Mbit/s", vals("h2g"), True),
            ("TCP guest -> host (iperf3 -R)", "Mbit/s", vals("g2h"), True),
            ("TCP echo round trip, median", "us", vals("rtt50"), False),
            ("TCP echo round trip, p99", "us", vals("rtt99"), False)]
    bg.ratio_table("bench net results (user networking through host forwards):", rows,
                   [p for p, _ in peers])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except bg.GuestError as e:
        print("bench net: FAILED: %s" % e)
        sys.exit(1)
