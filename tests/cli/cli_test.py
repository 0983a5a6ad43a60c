#!/usr/bin/env python3
"""The petrel toolstack verbs end to end against a real petreld.

usage: cli_test.py PETREL PETRELD HALT_GUEST HELLO_GUEST

Starts petreld in a temporary state directory with its own socket, then
drives every verb with halt-guest VMs (--accel emu, so it runs on any host):
create (flags and config file), list (table and --json), console (through a
pty: replay, input, Ctrl-] detach, terminal restored), pause, resume, top
--once, logs, reboot, mem-set, shutdown (timeout, --force), destroy, info;
and the error cases (no daemon, unknown VM, bad usage, duplicate name).
Exits 77 (skipped) when petreld has not been built.
"""
import http.client
import json
import os
import socket
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import time

sys.dont_write_bytecode = True

PETREL, PETRELD, HALT, HELLO = sys.argv[1:5]
READY = "halt guest ready"
failures = []


def check(ok, what, detail=""):
    print(("ok   " if ok else "FAIL ") + what + ("" if ok else ": " + detail), flush=True)
    if not ok:
        failures.append(what)
    return ok


def petrel(*args, sock=None, timeout=30, stdin=subprocess.DEVNULL):
    env = dict(os.environ)
    if sock is not None:
        env["PETREL_SOCKET"] = sock
    p = subprocess.run([PETREL] + list(args), capture_output=True, text=True, env=env,
                       timeout=timeout, stdin=stdin)
    return p.returncode, p.stdout, p.stderr


def api_get(sock, path):
    """GET from petreld directly (to check what a verb did)."""
    class Conn(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(sock)
    c = Conn("localhost", timeout=10)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, json.loads(r.read() or b"null")
    finally:
        c.close()


def wait_for(fn, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()


def main():
    if not os.access(PETRELD, os.X_OK):
        print("SKIP: %s has not been built (the daemon, src/daemon)" % PETRELD)
        return 77
    tmp = tempfile.mkdtemp(prefix="petrel-cli-")
    sock = os.path.join(tmp, "petreld.sock")
    log = open(os.path.join(tmp, "petreld.log"), "w")
    d = subprocess.Popen([PETRELD, "--socket", sock, "--state-dir", os.path.join(tmp, "state")],
                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        if not wait_for(lambda: os.path.exists(sock), 10):
            print("FAIL: petreld did not create its socket")
            return 1
        run_tests(tmp, sock)
    finally:
        # Every VM first (the daemon leaves VMs running when it stops), then the daemon.
        try:
            rc, out, _ = petrel("list", "--json", sock=sock)
            for vm in json.loads(out) if rc == 0 else []:
                petrel("destroy", vm["name"], sock=sock)
        except Exception as e:  # noqa: BLE001 - cleanup must go on
            print("cleanup:", e)
        d.send_signal(signal.SIGTERM)
        try:
            d.wait(10)
        except subprocess.TimeoutExpired:
            d.kill()
        log.close()
        if failures:
            with open(os.path.join(tmp, "petreld.log")) as f:
                print("--- petreld log (last 40 lines) ---")
                print("".join(f.readlines()[-40:]))
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        return 1
    print("all checks passed")
    return 0


def vms(sock):
    rc, out, err = petrel("list", "--json", sock=sock)
    if rc != 0:
        return {}
    return {v["name"]: v for v in json.loads(out)}


def state_of(sock, name):
    v = vms(sock).get(name)
    return v["state"] if v else None


def console_session(sock, name, send=b"", wait_text=READY, count=1, timeout=20):
    """petrel console on a pty: read until wait_text appears count times, send
    bytes, then Ctrl-]. Returns (exit status, output, termios restored?)."""
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    env = dict(os.environ, PETREL_SOCKET=sock)
    p = subprocess.Popen([PETREL, "console", name], stdin=slave, stdout=slave, stderr=slave,
                         env=env, start_new_session=True)
    out = b""
    end = time.monotonic() + timeout
    while out.decode(errors="replace").count(wait_text) < count and time.monotonic() < end:
        if select.select([master], [], [], 0.1)[0]:
            try:
                out += os.read(master, 4096)
            except OSError:
                break
    raw_while_attached = not (termios.tcgetattr(slave)[3] & termios.ICANON)
    if send:
        os.write(master, send)
        time.sleep(0.2)
    os.write(master, b"\x1d")
    try:
        st = p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        st = None
    while select.select([master], [], [], 0.1)[0]:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    after = termios.tcgetattr(slave)
    os.close(master)
    os.close(slave)
    return st, out.decode(errors="replace"), raw_while_attached, before == after


def run_tests(tmp, sock):
    nodaemon = os.path.join(tmp, "nobody.sock")

    # --- no daemon ---
    rc, out, err = petrel("list", "--socket", nodaemon)
    check(rc == 1 and ("cannot reach petreld at %s: " % nodaemon) in err,
          "no daemon: list exits 1 naming the socket", "%d %r" % (rc, err))
    rc, out, err = petrel("info", sock=nodaemon)
    check(rc == 0 and "computed locally" in out and "auto picks" in out,
          "no daemon: info computes locally and says so", "%d %r %r" % (rc, out, err))

    # --- bad usage: exit 2 ---
    for args in (["pause"], ["frobnicate"], ["list", "--bogus"], ["shutdown", "--timeout", "x", "a"],
                 ["create", "--mem", "64"], ["create", "--kernel", HALT, "--serial", "stdio"],
                 ["mem-set", "a", "lots"], ["top", "--delay", "0"], ["destroy", "a", "b"]):
        rc, out, err = petrel(*args, sock=sock)
        check(rc == 2 and err.strip(), "usage: petrel %s exits 2" % " ".join(args),
              "%d %r" % (rc, err))

    # --- info through the daemon ---
    rc, out, err = petrel("info", sock=sock)
    check(rc == 0 and ("source       petreld at " + sock) in out and "engine emu" in out,
          "info from petreld", "%d %r %r" % (rc, out, err))
    rc, out, err = petrel("info", "--json", sock=sock)
    info = json.loads(out) if rc == 0 else {}
    check(info.get("cpus", 0) >= 1 and info.get("auto") in ("emu", "kvm") and
          info.get("engines", {}).get("emu", {}).get("usable") is True,
          "info --json has cpus, engines and auto", out)

    # --- create from flags and from a config file ---
    rc, out, err = petrel("create", "--name", "h1", "--accel", "emu", "--kernel", HALT,
                          "--mem", "32", sock=sock)
    check(rc == 0 and re.fullmatch(r"h1 \d+\n", out), "create from flags prints name and id",
          "%d %r %r" % (rc, out, err))
    cfgdir = os.path.join(tmp, "cfg")
    os.mkdir(cfgdir)
    shutil.copy(HALT, os.path.join(cfgdir, "halt.bin"))
    cfg = os.path.join(cfgdir, "h2.json")
    with open(cfg, "w") as f:
        json.dump({"name": "h2", "kernel": "halt.bin", "accel": "emu", "cpus": 2, "mem_mib": 48},
                  f)
    rc, out, err = petrel("create", "--json", cfg, sock=sock)
    summary = json.loads(out) if rc == 0 else {}
    check(rc == 0 and summary.get("name") == "h2" and summary.get("cpus") == 2,
          "create from a config file (relative kernel path), --json summary",
          "%d %r %r" % (rc, out, err))
    rc, out, err = petrel("create", "--name", "h1", "--accel", "emu", "--kernel", HALT, sock=sock)
    check(rc == 1 and "petrel create: " in err and "h1" in err,
          "create: a duplicate name is refused with the daemon's message", "%d %r" % (rc, err))
    with open(cfg, "w") as f:
        json.dump({"name": "h9", "kernel": "halt.bin", "colour": "blue"}, f)
    rc, out, err = petrel("create", cfg, sock=sock)
    check(rc == 1 and "colour" in err, "create: the daemon's message for an unknown field",
          "%d %r" % (rc, err))

    # --- list ---
    ok = wait_for(lambda: state_of(sock, "h1") == "running" and state_of(sock, "h2") == "running",
                  10)
    check(ok, "both VMs running", repr(vms(sock)))
    rc, out, err = petrel("list", sock=sock)
    lines = out.splitlines()
    check(rc == 0 and lines and lines[0].split() == ["Name", "ID", "Mem", "VCPUs", "State",
                                                      "Time(s)"],
          "list header like xl list", repr(out))
    rows = {ln.split()[0]: ln.split() for ln in lines[1:]}
    check(rows.get("h1", [None] * 6)[2:5] == ["32", "1", "running"] and
          rows.get("h2", [None] * 6)[2:5] == ["48", "2", "running"] and
          re.fullmatch(r"\d+\.\d", rows.get("h1", [""] * 6)[5] or ""),
          "list rows: mem, vcpus, state, cpu time", repr(out))

    # --- console through a pty ---
    st, out, raw, restored = console_session(sock, "h1")
    check(st == 0 and READY in out and "Detached" in out,
          "console: replays the guest's output, Ctrl-] detaches with status 0",
          "%r %r" % (st, out))
    check(raw, "console: the terminal is raw while attached")
    check(restored, "console: the terminal settings are restored on exit")
    check(state_of(sock, "h1") == "running", "console: the VM keeps running after detach")
    rc, out, err = petrel("console", "h1", sock=sock)  # stdin /dev/null
    check(rc == 0 and READY in out, "console </dev/null prints the recent output and returns",
          "%d %r %r" % (rc, out, err))
    rc, out, err = petrel("console", "nope", sock=sock)
    check(rc == 1 and "nope" in err, "console: unknown VM exits 1", "%d %r" % (rc, err))

    # --- create --no-start, then start ---
    rc, out, err = petrel("create", "--name", "late", "--no-start", "--accel", "emu", "--kernel",
                          HALT, "--mem", "16", sock=sock)
    check(rc == 0 and wait_for(lambda: state_of(sock, "late") == "created", 10),
          "create --no-start leaves the VM in state created",
          "%d %r %r" % (rc, err, vms(sock).get("late")))
    rc, out, err = petrel("start", "late", sock=sock)
    check(rc == 0 and wait_for(lambda: state_of(sock, "late") == "running", 10),
          "start runs it", "%d %r %r" % (rc, err, vms(sock).get("late")))
    st, out, _, _ = console_session(sock, "late", timeout=15)
    check(READY in out, "start: the guest runs", repr(out))

    # --- the console ends when the VM does ---
    master, slave = pty.openpty()
    p = subprocess.Popen([PETREL, "console", "late"], stdin=slave, stdout=slave, stderr=slave,
                         env=dict(os.environ, PETREL_SOCKET=sock), start_new_session=True)
    out = b""
    end = time.monotonic() + 15
    while READY.encode() not in out and time.monotonic() < end:
        if select.select([master], [], [], 0.1)[0]:
            out += os.read(master, 4096)
    petrel("destroy", "late", sock=sock)
    try:
        st = p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        st = None
    while select.select([master], [], [], 0.2)[0]:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    restored = termios.tcgetattr(slave)[3] & termios.ICANON
    os.close(master)
    os.close(slave)
    check(st == 0 and b"console closed" in out and restored,
          "console: ends (status 0, terminal restored) when the VM is destroyed",
          "%r %r" % (st, out))

    # --- top, live, on a terminal: q quits ---
    master, slave = pty.openpty()
    p = subprocess.Popen([PETREL, "top", "--delay", "0.2"], stdin=slave, stdout=slave,
                         stderr=slave, env=dict(os.environ, PETREL_SOCKET=sock),
                         start_new_session=True)
    out = b""
    end = time.monotonic() + 10
    while out.count(b"petrel top") < 2 and time.monotonic() < end:
        if select.select([master], [], [], 0.1)[0]:
            out += os.read(master, 4096)
    os.write(master, b"q")
    try:
        st = p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        st = None
    restored = termios.tcgetattr(slave)[3] & termios.ECHO
    os.close(master)
    os.close(slave)
    check(st == 0 and out.count(b"petrel top") >= 2 and b"\x1b[H" in out and restored,
          "top: refreshes on a terminal, q quits, terminal restored", "%r %r" % (st, out[-300:]))

    # --- pause / resume ---
    rc, out, err = petrel("pause", "h1", sock=sock)
    check(rc == 0 and state_of(sock, "h1") == "paused", "pause", "%d %r" % (rc, err))
    rc, out, err = petrel("resume", "h1", sock=sock)
    check(rc == 0 and state_of(sock, "h1") == "running", "resume", "%d %r" % (rc, err))

    # --- top --once ---
    rc, out, err = petrel("top", "--once", "--delay", "0.3", sock=sock)
    lines = out.splitlines()
    top = {ln.split()[0]: ln.split() for ln in lines[2:]} if len(lines) > 2 else {}
    check(rc == 0 and lines[0].startswith("petrel top") and "2 VMs" in lines[0] and
          lines[1].split()[:4] == ["NAME", "ID", "STATE", "CPU%"],
          "top --once prints one frame", repr(out) + err)
    check(all(re.fullmatch(r"\d+\.\d", top.get(n, [""] * 5)[3]) and
              re.fullmatch(r"\d+\.\d", top.get(n, [""] * 5)[4]) for n in ("h1", "h2")),
          "top: CPU% and RSS for each VM", repr(out))

    # --- logs ---
    rc, out, err = petrel("logs", "h1", sock=sock)
    check(rc == 0 and len(out) > 0, "logs", "%d %r" % (rc, err))
    rc, tail, err = petrel("logs", "--tail", "10", "h1", sock=sock)
    check(rc == 0 and 0 < len(tail.encode()) <= 10 and out.endswith(tail),
          "logs --tail 10 gives the last 10 bytes", "%d %r" % (rc, tail))

    # --- reboot: the guest starts again and greets twice in the console's ring ---
    rc, out, err = petrel("reboot", "h1", sock=sock)
    check(rc == 0, "reboot", "%d %r" % (rc, err))
    st, out, _, _ = console_session(sock, "h1", count=2, timeout=15)
    check(out.count(READY) >= 2, "reboot: the guest ran again", repr(out))

    # --- mem-set ---
    rc, out, err = petrel("mem-set", "h1", "16", sock=sock)
    check(rc == 1 and "no balloon" in err, "mem-set: clear error without a balloon",
          "%d %r" % (rc, err))
    rc, out, err = petrel("create", "--name", "hb", "--accel", "emu", "--kernel", HALT, "--mem",
                          "64", "--balloon", sock=sock)
    check(rc == 0, "create with a balloon", "%d %r" % (rc, err))
    rc, out, err = petrel("mem-set", "hb", "48", sock=sock)
    check(rc == 0 and "48 MiB" in out, "mem-set with a balloon", "%d %r %r" % (rc, out, err))
    st, balloon = api_get(sock, "/vms/hb/balloon")
    check(st == 200 and balloon.get("amount_mib") == 16,
          "mem-set 48 of 64 MiB: balloon target 16 MiB", "%d %r" % (st, balloon))
    rc, out, err = petrel("mem-set", "hb", "128", sock=sock)
    check(rc == 1 and "more than" in err, "mem-set above the VM's memory is refused",
          "%d %r" % (rc, err))

    # --- shutdown: the halt guest ignores the power button ---
    t = time.monotonic()
    rc, out, err = petrel("shutdown", "--timeout", "1", "h2", sock=sock)
    check(rc == 1 and "still running" in err and time.monotonic() - t < 10,
          "shutdown: timeout exits 1 when the guest ignores the button", "%d %r" % (rc, err))
    rc, out, err = petrel("shutdown", "--timeout", "1", "--force", "h2", sock=sock)
    check(rc == 0 and "destroyed" in out and "h2" not in vms(sock),
          "shutdown --force destroys after the timeout", "%d %r %r" % (rc, out, err))

    # --- a guest that powers off by itself: state shutoff ---
    rc, out, err = petrel("create", "--name", "hello", "--accel", "emu", "--kernel", HELLO,
                          "--kernel-format", "flat", "--mem", "16", sock=sock)
    check(rc == 0, "create a guest that powers off", "%d %r" % (rc, err))
    check(wait_for(lambda: state_of(sock, "hello") == "shutoff", 20), "it reaches shutoff",
          repr(vms(sock).get("hello")))
    rc, out, err = petrel("shutdown", "hello", sock=sock)
    check(rc == 0 and "already shutoff" in out, "shutdown of a shut-off VM",
          "%d %r %r" % (rc, out, err))

    # --- destroy ---
    for name in ("h1", "hb", "hello"):
        rc, out, err = petrel("destroy", name, sock=sock)
        check(rc == 0 and name not in vms(sock), "destroy " + name, "%d %r" % (rc, err))
    rc, out, err = petrel("destroy", "h1", sock=sock)
    check(rc == 1 and err.startswith("petrel destroy h1: "),
          "destroy: unknown VM exits 1 with the daemon's message", "%d %r" % (rc, err))
    rc, out, err = petrel("list", sock=sock)
    check(rc == 0 and len(out.splitlines()) == 1, "list is empty again", repr(out))


if __name__ == "__main__":
    sys.exit(main())
