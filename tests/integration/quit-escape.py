#!/usr/bin/env python3
"""On a stdio console, Ctrl-A x ends petrel (status 0) while the guest still runs.
Usage: quit-escape.py ENGINE PETREL HALT_GUEST"""
import os
import pty
import select
import sys
import time

engine, petrel, guest = sys.argv[1:4]
if engine == "kvm" and not os.access("/dev/kvm", os.R_OK | os.W_OK):
    print("SKIP: /dev/kvm is not usable here")
    sys.exit(77)
pid, fd = pty.fork()
if pid == 0:
    os.execv(petrel, [petrel, "run", "--accel", engine, "--serial", "stdio", "--kernel", guest,
                      "--kernel-format", "multiboot"])
out = b""
deadline = time.time() + 30
while b"halt guest ready" not in out and time.time() < deadline:
    if select.select([fd], [], [], 0.1)[0]:
        try:
            out += os.read(fd, 4096)
        except OSError:
            break
text = out.decode(errors="replace")
if "cannot run guests" in text or f"--accel {engine}:" in text:
    print("SKIP:", text.strip())
    os.kill(pid, 9)
    sys.exit(77)
if "halt guest ready" not in text:
    print("FAIL: no greeting:", repr(text))
    os.kill(pid, 9)
    sys.exit(1)
os.write(fd, b"\x01x")
for _ in range(100):
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    time.sleep(0.1)
else:
    print("FAIL: petrel still running 10 s after Ctrl-A x")
    os.kill(pid, 9)
    sys.exit(1)
code = os.waitstatus_to_exitcode(st)
print("petrel exited with", code)
sys.exit(0 if code == 0 else 1)
