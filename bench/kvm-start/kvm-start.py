#!/usr/bin/env python3
"""Start-up benchmark: petrel vs QEMU microvm on the same tiny Multiboot guest.

Timing runs (guest prints a line and leaves through isa-debug-exit), medians:
  first byte  time from spawning the VMM to the guest's first serial byte
  exit        time from spawning the VMM to its exit
A third row runs petrel's software CPU (--accel emu) for reference.
Memory runs (the same guest, built to halt after printing), medians:
  peak RSS    VmHWM of the VMM process 300 ms after the first serial byte
  guest RAM   guest memory touched: both VMMs back RAM with a memfd here, so
              it is the process's RssShmem at the same moment
  overhead    peak RSS minus guest RAM touched: what the VMM itself costs
A peer that cannot run here is skipped with its reason printed.
"""
import os
import signal
import statistics
import subprocess
import sys
import time

RUNS = int(os.environ.get("BENCH_RUNS", "10"))
MEM_MIB = 64
GREETING = "hello from the benchmark guest"


def proc_status(pid):
    vals = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "RssShmem", "RssAnon", "RssFile"):
                vals[k] = int(v.split()[0])
    return vals


def spawn(argv):
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def time_once(argv, expect_status):
    t0 = time.perf_counter()
    p = spawn(argv)
    first = p.stdout.read(1)
    t_first = time.perf_counter() - t0
    rest = p.stdout.read()
    err = p.stderr.read()
    code = p.wait()
    t_exit = time.perf_counter() - t0
    out = (first + rest).decode(errors="replace")
    if code != expect_status or GREETING not in out:
        raise RuntimeError(f"exit status {code}, output {out!r}, "
                           f"stderr {err.decode(errors='replace')!r}")
    return {"first": t_first * 1e3, "exit": t_exit * 1e3}


def mem_once(argv):
    p = spawn(argv)
    try:
        line = p.stdout.readline().decode(errors="replace")
        if GREETING not in line:
            raise RuntimeError(f"no greeting: {line!r} {p.stderr.read(200)!r}")
        time.sleep(0.3)
        st = proc_status(p.pid)
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    return {"rss": st["VmHWM"], "guest": st.get("RssShmem", 0),
            "overhead": st["VmHWM"] - st.get("RssShmem", 0)}


def measure(name, argv, argv_hang, expect_status):
    try:
        time_once(argv, expect_status)  # warm the page cache
        runs = [time_once(argv, expect_status) for _ in range(RUNS)]
        mems = [mem_once(argv_hang) for _ in range(max(3, RUNS // 3))]
    except (OSError, RuntimeError) as e:
        print(f"{name}: skipped: {e}")
        return None
    r = {k: statistics.median(x[k] for x in runs) for k in runs[0]}
    r.update({k: statistics.median(x[k] for x in mems) for k in mems[0]})
    return r


def petrel_argv(petrel, guest, accel="kvm"):
    return [petrel, "run", "--accel", accel, "--mem", str(MEM_MIB), "--serial", "stdio",
            "--kernel", guest, "--kernel-format", "multiboot"]


def qemu_argv(guest):
    return ["qemu-system-x86_64", "-M", "microvm", "-enable-kvm", "-m", str(MEM_MIB),
            "-object", f"memory-backend-memfd,id=ram,size={MEM_MIB}M",
            "-machine", "memory-backend=ram", "-nodefaults", "-no-user-config",
            "-display", "none", "-serial", "stdio",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-kernel", guest]


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: kvm-start.py PETREL GUEST GUEST_HANG")
    petrel, guest, guest_hang = sys.argv[1:]
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("SKIP: /dev/kvm is not usable here")
        return 77
    res = {
        "petrel": measure("petrel", petrel_argv(petrel, guest), petrel_argv(petrel, guest_hang), 1),
        "qemu-microvm": measure("qemu-microvm", qemu_argv(guest), qemu_argv(guest_hang), 1),
        # For reference: the software CPU on the same guest (not part of the ratios).
        "petrel-emu": measure("petrel-emu", petrel_argv(petrel, guest, "emu"),
                              petrel_argv(petrel, guest_hang, "emu"), 1),
    }
    print(f"kvm-start: {RUNS} timing runs each, medians; guest RAM {MEM_MIB} MiB")
    print(f"{'':14}{'first byte':>12}{'exit':>10}{'peak RSS':>12}{'guest RAM':>12}{'overhead':>12}")
    for n, r in res.items():
        if r:
            print(f"{n:14}{r['first']:>9.1f} ms{r['exit']:>7.1f} ms{r['rss'] / 1024:>8.1f} MiB"
                  f"{r['guest']:>8.0f} KiB{r['overhead'] / 1024:>8.1f} MiB")
    p, q = res["petrel"], res["qemu-microvm"]
    if p and q:
        print("ratios (qemu / petrel; > 1 means petrel is faster or smaller):")
        for k, label in (("first", "first byte"), ("exit", "exit"), ("overhead", "overhead")):
            print(f"  {label:12} {q[k] / p[k]:.2f}x" if p[k] > 0 else f"  {label}: n/a")
    return 0 if p else 1


if __name__ == "__main__":
    sys.exit(main())
