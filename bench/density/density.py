#!/usr/bin/env python3
"""VM density: how fast petreld starts tiny VMs, and what an idle one costs.

usage: density.py PETREL PETRELD HALT_GUEST [N]

Starts its own petreld (temporary state directory and socket), then:

1. Creation rate. N (default 20) POST /vms requests for halt-guest VMs
   (--accel emu, 32 MiB), sent at once from N threads. For each VM the clock
   runs from sending its request to the guest's greeting "halt guest ready"
   on its console: that line is the guest's first output, written by its
   first instructions, so it marks "the guest runs". The console socket is
   connected as soon as the POST answers and the VM process replays what the
   guest wrote before, so the time is an upper bound (it includes the answer
   and the connection). VMs/s = N / (last greeting - first request).
2. Idle cost. After the VMs sit idle (--idle seconds, default 3): per VM
   process, PSS from /proc/PID/smaps_rollup and the RSS of its guest-RAM
   memfd mapping ("petrel-ram" in /proc/PID/smaps); VMM overhead = PSS - guest
   RAM touched (shared library pages are split among the processes mapping
   them, so it falls with N); also the private part alone (USS - guest RAM),
   what one more VM adds. Also the CPU time the idle VMs use and petreld's own PSS.
3. How many such VMs this host holds: MemAvailable over the per-VM PSS, the
   kernel's task limits (pid_max, threads-max, RLIMIT_NPROC) over the threads
   per VM, and the idle CPU use when it is not zero. An estimate, not a run to
   exhaustion on a shared machine.

Targets (issue 6): >= 5 VMs per host core per second, < 3 MiB overhead per
VM. Firecracker's figure is from its own paper/docs on other hardware; there
is no Firecracker on this machine to run side by side, so no ratio is shown.
Exit status 0 when the figures were measured (targets missed are reported,
not failures), 77 when petreld is missing, 1 on errors.
"""
import http.client
import json
import os
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
READY = b"halt guest ready"
MEM_MIB = 32


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def api(sock, method, path, body=None):
    c = UnixHTTPConnection(sock)
    try:
        data = json.dumps(body) if body is not None else None
        hdrs = {"Content-Type": "application/json"} if data else {}
        c.request(method, path, body=data, headers=hdrs)
        r = c.getresponse()
        text = r.read().decode()
        return r.status, (json.loads(text) if text.strip().startswith(("{", "[")) else text)
    finally:
        c.close()


def wait_greeting(path, deadline):
    """Connect to a console socket and read until READY; the monotonic time it came."""
    buf = b""
    while time.monotonic() < deadline:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
        except OSError:
            s.close()
            time.sleep(0.005)
            continue
        try:
            while time.monotonic() < deadline:
                if select.select([s], [], [], 0.05)[0]:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    buf += chunk
                    if READY in buf:
                        return time.monotonic()
        finally:
            s.close()
    return None


def smaps_rollup(pid):
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[-1] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    return out


def ram_mapping_kib(pid):
    """RSS and PSS (KiB) of the guest-RAM memfd mappings of a VM process."""
    rss = pss = 0
    inside = False
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            first = line.split(" ", 1)[0]
            if "-" in first and not first.endswith(":"):
                inside = "petrel-ram" in line
            elif inside and line.startswith("Rss:"):
                rss += int(line.split()[1])
            elif inside and line.startswith("Pss:"):
                pss += int(line.split()[1])
    return rss, pss


def breakdown(pid):
    """Where a VM process's PSS goes: anonymous (heap, stacks), libraries, the rest."""
    parts = {"guest RAM": 0, "anonymous (heap, stacks)": 0, "petrel binary": 0,
             "shared libraries": 0, "other": 0}
    name = ""
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            first = line.split(" ", 1)[0]
            if "-" in first and not first.endswith(":"):
                fields = line.split(None, 5)
                name = fields[5].strip() if len(fields) > 5 else ""
            elif line.startswith("Pss:"):
                kib = int(line.split()[1])
                if "petrel-ram" in name:
                    parts["guest RAM"] += kib
                elif name == "" or name.startswith("[heap]") or name.startswith("[stack"):
                    parts["anonymous (heap, stacks)"] += kib
                elif name.endswith("/petrel"):
                    parts["petrel binary"] += kib
                elif ".so" in name:
                    parts["shared libraries"] += kib
                else:
                    parts["other"] += kib
    return parts


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def threads(pid):
    return len(os.listdir("/proc/%d/task" % pid))


def mem_available_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


def main():
    petrel, petreld, halt = sys.argv[1:4]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else int(os.environ.get("DENSITY_N", "20"))
    idle_s = float(os.environ.get("DENSITY_IDLE", "3"))
    if not os.access(petreld, os.X_OK):
        print("SKIP: %s has not been built" % petreld)
        return 77
    cores = os.cpu_count() or 1
    tmp = tempfile.mkdtemp(prefix="petrel-density-")
    sock = os.path.join(tmp, "petreld.sock")
    log = open(os.path.join(tmp, "petreld.log"), "w")
    d = subprocess.Popen([petreld, "--socket", sock, "--state-dir", os.path.join(tmp, "state"),
                          "--petrel", petrel], stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    names = ["d%d" % i for i in range(n)]
    try:
        end = time.monotonic() + 10
        while not os.path.exists(sock) and time.monotonic() < end:
            time.sleep(0.02)
        if not os.path.exists(sock):
            print("FAIL: petreld did not start")
            return 1
        print("density: %d halt-guest VMs (%d MiB, --accel emu) on %d host CPUs" %
              (n, MEM_MIB, cores), flush=True)

        # 1. creation rate
        results = {}
        barrier = threading.Barrier(n)

        def one(name):
            spec = {"name": name, "kernel": os.path.abspath(halt), "accel": "emu",
                    "mem_mib": MEM_MIB, "kernel_format": "multiboot"}
            barrier.wait()
            t0 = time.monotonic()
            st, body = api(sock, "POST", "/vms", spec)
            t1 = time.monotonic()
            if st != 201:
                results[name] = (t0, t1, None, "HTTP %d %s" % (st, body))
                return
            t2 = wait_greeting(body["console_socket"], t0 + 60)
            results[name] = (t0, t1, t2, None if t2 else "no greeting in 60 s")

        ths = [threading.Thread(target=one, args=(nm,)) for nm in names]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        errors = {k: v[3] for k, v in results.items() if v[3]}
        if errors:
            for k, v in sorted(errors.items())[:5]:
                print("FAIL: %s: %s" % (k, v))
            return 1
        first = min(v[0] for v in results.values())
        last = max(v[2] for v in results.values())
        lat = sorted(v[2] - v[0] for v in results.values())
        api_lat = sorted(v[1] - v[0] for v in results.values())
        rate = n / (last - first)
        print("creation: %d VMs in %.3f s = %.1f VMs/s = %.1f VMs/s per host core "
              "(target >= 5 per core: %s)" % (n, last - first, rate, rate / cores,
                                              "met" if rate / cores >= 5 else "NOT met"))
        print("  request -> guest greeting: median %.0f ms, max %.0f ms; "
              "POST answered: median %.0f ms" % (1000 * statistics.median(lat),
                                                  1000 * lat[-1],
                                                  1000 * statistics.median(api_lat)))

        # a single VM alone, for the latency without queueing
        t0 = time.monotonic()
        st, body = api(sock, "POST", "/vms", {"name": "solo", "kernel": os.path.abspath(halt),
                                              "accel": "emu", "mem_mib": MEM_MIB})
        t2 = wait_greeting(body["console_socket"], t0 + 30) if st == 201 else None
        if t2:
            print("  one VM alone: request -> guest greeting %.0f ms" % (1000 * (t2 - t0)))
        api(sock, "DELETE", "/vms/solo")

        # 2. idle cost
        st, vms = api(sock, "GET", "/vms")
        pids = [v["pid"] for v in vms if v.get("pid") and v["name"] in results]
        c0 = sum(cpu_ticks(p) for p in pids)
        t0 = time.monotonic()
        time.sleep(idle_s)
        c1 = sum(cpu_ticks(p) for p in pids)
        hz = os.sysconf("SC_CLK_TCK")
        idle_cpu = 100.0 * (c1 - c0) / hz / (time.monotonic() - t0)
        pss, rss, ram, over, uss = [], [], [], [], []
        for p in pids:
            r = smaps_rollup(p)
            ram_rss, ram_pss = ram_mapping_kib(p)
            pss.append(r["Pss"])
            rss.append(r["Rss"])
            ram.append(ram_rss)
            over.append(r["Pss"] - ram_pss)
            # USS: pages only this process maps (what one more VM really adds).
            uss.append(r.get("Private_Clean", 0) + r.get("Private_Dirty", 0) - ram_rss)
        med_over = statistics.median(over) / 1024
        print("idle (%.0f s): %d VM processes use %.2f%% of one CPU together" %
              (idle_s, len(pids), idle_cpu))
        print("  per VM: PSS %.2f MiB, RSS %.2f MiB, guest RAM touched %.2f MiB, "
              "%d threads" % (statistics.median(pss) / 1024, statistics.median(rss) / 1024,
                              statistics.median(ram) / 1024, threads(pids[0])))
        print("  VMM overhead per VM (PSS - guest RAM): median %.2f MiB, max %.2f MiB "
              "(target < 3 MiB: %s)" % (med_over, max(over) / 1024,
                                        "met" if med_over < 3 else "NOT met"))
        print("  private memory per VM beyond guest RAM (USS - guest RAM): median %.2f MiB" %
              (statistics.median(uss) / 1024))
        parts = breakdown(pids[len(pids) // 2])
        print("  where one VM process's PSS goes: " +
              ", ".join("%s %.2f MiB" % (k, v / 1024) for k, v in parts.items()))
        dpss = smaps_rollup(d.pid)["Pss"]
        print("  petreld: PSS %.2f MiB (%.3f MiB per VM at %d VMs)" %
              (dpss / 1024, dpss / 1024 / len(pids), len(pids)))

        # 3. how many the host holds
        per_vm = statistics.median(pss)
        avail = mem_available_kib()
        by_mem = int(avail / per_vm)
        line = ("host holds: ~%d such idle VMs by memory (MemAvailable %.0f MiB / PSS %.2f MiB "
                "per VM)" % (by_mem, avail / 1024, per_vm / 1024))
        if idle_cpu > 0.01 * len(pids):
            by_cpu = int(cores * 100 / (idle_cpu / len(pids)))
            line += ", ~%d by idle CPU use" % by_cpu
        # Each VM is a process with a few threads: the kernel's task limits bound it too.
        nthr = threads(pids[0])
        limits = []
        for what, path in (("pid_max", "/proc/sys/kernel/pid_max"),
                           ("threads-max", "/proc/sys/kernel/threads-max")):
            try:
                with open(path) as f:
                    limits.append((int(int(f.read()) / nthr), what))
            except (OSError, ValueError):
                pass
        soft = resource.getrlimit(resource.RLIMIT_NPROC)[0]
        if soft != resource.RLIM_INFINITY:
            limits.append((int(soft / nthr), "RLIMIT_NPROC"))
        if limits:
            by_tasks, what = min(limits)
            line += ", ~%d by tasks (%s / %d threads per VM)" % (by_tasks, what, nthr)
        print(line + "; an estimate from %d running VMs" % len(pids))
        print("peer: no Firecracker on this machine, so no side-by-side figure "
              "(its published target is the issue's: 5 VMs/core/s, < 3 MiB overhead)")
        return 0
    finally:
        for nm in names + ["solo"]:
            try:
                api(sock, "DELETE", "/vms/" + nm)
            except OSError:
                pass
        d.send_signal(signal.SIGTERM)
        try:
            d.wait(10)
        except subprocess.TimeoutExpired:
            d.kill()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
