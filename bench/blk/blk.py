#!/usr/bin/env python3
"""virtio-blk inside the guest: petrel --accel emu against QEMU TCG.

usage: blk.py PETREL REPO GUEST_DIR [SECONDS]

Both boot the same Debian kernel and virtio initramfs with the same command
line, 512 MiB and one vCPU, a 256 MiB raw image file as the data disk and the
read-only tools disk (tests/virtio-linux/benchguest.py), on virtio-blk over
virtio-pci. fio (the host's Debian binary) runs in the guest on the raw
device with O_DIRECT and the psync engine, each job for SECONDS (default 6):
sequential write and read in 1 MiB blocks (throughput), random write and read
in 4 KiB blocks at queue depth 1 (IOPS, mean and 99th percentile completion
latency). QEMU is the peer only: skipped with a message when not installed.
"""
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "tests", "virtio-linux"))
import benchguest as bg  # noqa: E402

DISK_MB = 256
JOBS = [  # name, rw, block size
    ("seqwrite", "write", "1M"),
    ("seqread", "read", "1M"),
    ("randwrite", "randwrite", "4k"),
    ("randread", "randread", "4k"),
]


def fio(g, dev, name, rw, bs, seconds):
    cmd = ("%s --name=%s --filename=%s --rw=%s --bs=%s --direct=1 --ioengine=psync "
           "--iodepth=1 --thread --size=%dM --runtime=%d --time_based --eta=never "
           "--randrepeat=0 --output-format=json 2>&1"
           % (bg.tool("fio"), name, dev, rw, bs, DISK_MB, seconds))
    out, st = g.run(cmd, seconds * 10 + 120)
    if st != 0 or "{" not in out:
        raise bg.GuestError("fio %s failed (status %d): %r" % (name, st, out[-800:]))
    job = json.loads(out[out.index("{"):out.rindex("}") + 1])["jobs"][0]
    side = job["read" if "read" in rw else "write"]
    if side["io_bytes"] == 0:
        raise bg.GuestError("fio %s moved no data: %r" % (name, out[-800:]))
    clat = side["clat_ns"]
    p99 = clat.get("percentile", {}).get("99.000000", 0)
    return {"MiB/s": side["bw_bytes"] / (1 << 20), "iops": side["iops"],
            "lat_us": clat["mean"] / 1000.0, "p99_us": p99 / 1000.0}


def measure(argv, seconds):
    g = bg.boot(argv)
    try:
        out, st = g.run("for d in /sys/block/vd*; do [ $(cat $d/ro) = 0 ] && "
                        "[ $(cat $d/size) = %d ] && echo ${d##*/}; done" % (DISK_MB * 2048), 30)
        if not out.strip():
            raise bg.GuestError("the data disk is missing in the guest: %r" % out)
        dev = "/dev/" + out.split()[0]
        res = {}
        for name, rw, bs in JOBS:
            r = fio(g, dev, name, rw, bs, seconds)
            res[name] = r
            print("  %-9s %8.2f MiB/s %9.0f IOPS  mean %9.1f us  p99 %9.1f us"
                  % (name, r["MiB/s"], r["iops"], r["lat_us"], r["p99_us"]), flush=True)
        return res
    finally:
        bg.shutdown(g)


def main():
    if len(sys.argv) not in (4, 5):
        print(__doc__)
        return 2
    petrel, repo, guest_dir = sys.argv[1:4]
    seconds = int(sys.argv[4]) if len(sys.argv) == 5 else 6
    kernel, initrd = bg.build_guest(repo, guest_dir)
    tools = bg.tools_image(guest_dir, ["fio"])
    data = os.path.join(guest_dir, "bench-blk-data.img")
    kver = open(os.path.join(guest_dir, "kernel-version")).read().strip()
    print("bench blk: Linux %s, %d MiB, 1 vCPU, raw %d MiB image, fio psync O_DIRECT, "
          "%d s per job" % (kver, bg.MEM_MB, DISK_MB, seconds), flush=True)
    results = {}
    peers = bg.peers(petrel)
    for name, mk in peers:
        with open(data, "wb") as f:  # a fresh sparse image for each peer
            f.truncate(DISK_MB << 20)
        try:
            results[name] = measure(mk(kernel, initrd, [(data, False), (tools, True)], []),
                                    seconds)
        finally:
            os.unlink(data)
    rows = []
    for name, _, _ in JOBS:
        vals = lambda k: {p: results[p][name][k] for p in results}  # noqa: E731
        if name.startswith("seq"):
            rows.append(("%s 1 MiB throughput" % name, "MiB/s", vals("MiB/s"), True))
        else:
            rows.append(("%s 4 KiB QD1 IOPS" % name, "IOPS", vals("iops"), True))
            rows.append(("%s 4 KiB mean latency" % name, "us", vals("lat_us"), False))
            rows.append(("%s 4 KiB p99 latency" % name, "us", vals("p99_us"), False))
    bg.ratio_table("bench blk results (fio in the guest, %d s per job):" % seconds, rows,
                   [p for p, _ in peers])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except bg.GuestError as e:
        print("bench blk: FAILED: %s" % e)
        sys.exit(1)
