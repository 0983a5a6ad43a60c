"""Drive a guest's shell over petrel's stdio serial console (pipes, no pty).

The guest's /init (tools/build-default-guest.sh) loads its modules, starts
acpid, prints a banner and starts /bin/sh on ttyS0. Each command is sent with
a trailing echo of a marker whose
text differs from what the terminal echoes back ("@@E""N" in the typed line,
"@@EN" in the output), so the echoed input can never be mistaken for it.
"""
import fcntl
import os
import re
import subprocess
import sys
import threading
import time

BANNER = re.compile(rb"Petrel default guest: Linux (\S+), (\d+) CPU\(s\)")
SKIP = 77
# Console lines after which waiting longer is pointless: fail at once.
FATAL = re.compile(rb"Kernel panic - not syncing|BUG: soft lockup|rcu: INFO: rcu_sched self-detected stall")


class GuestError(Exception):
    pass


def ensure_guest(repo, guest_dir):
    """Build the default guest, or bring it up to date; exit 77 (skip) when that fails here.

    The script returns at once when the directory's initramfs was made by the
    current scripts (its stamp), rebuilds the initramfs when an older script
    made it and downloads only what is missing, so it runs every time.
    """
    built = all(os.path.isfile(os.path.join(guest_dir, f))
                for f in ("vmlinuz", "initramfs.cpio.gz", "kernel-version"))
    # Tests run in parallel: one builds, the others wait for it (the script
    # also takes its own lock inside the directory).
    os.makedirs(os.path.dirname(os.path.abspath(guest_dir)), exist_ok=True)
    with open(os.path.abspath(guest_dir) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        script = os.path.join(repo, "tools", "build-default-guest.sh")
        r = subprocess.run([script, guest_dir], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
    if r.returncode != 0:
        sys.stdout.write(r.stdout.decode(errors="replace"))
        if built:
            print("guestctl: tools/build-default-guest.sh failed; using the guest "
                  "already in %s" % guest_dir)
            return
        print("SKIP: the Debian default guest cannot be built here "
              "(tools/build-default-guest.sh failed; apt-get download needs the "
              "Debian archive)")
        sys.exit(SKIP)


class Guest:
    def __init__(self, argv, env=None, log=None):
        self.argv = argv
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=env)
        self.buf = bytearray()
        self.err = bytearray()
        self.cv = threading.Condition()
        self.log = log
        self.seq = 0
        self.eof = False
        threading.Thread(target=self._pump, args=(self.p.stdout, self.buf, True),
                         daemon=True).start()
        threading.Thread(target=self._pump, args=(self.p.stderr, self.err, False),
                         daemon=True).start()

    def _pump(self, f, into, is_out):
        while True:
            b = os.read(f.fileno(), 65536)
            with self.cv:
                if not b:
                    if is_out:
                        self.eof = True
                    self.cv.notify_all()
                    return
                into += b
                self.cv.notify_all()
            if self.log and is_out:
                self.log.write(b.decode(errors="replace"))
                self.log.flush()

    def elapsed(self):
        return time.monotonic() - self.t0

    def expect(self, regex, timeout, start=0):
        """Wait for regex in the output from offset start; returns the match."""
        if isinstance(regex, (str, bytes)):
            regex = re.compile(regex if isinstance(regex, bytes) else regex.encode())
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                m = regex.search(self.buf, start)
                if m:
                    return m
                f = FATAL.search(self.buf, start)
                if f:
                    line_end = self.buf.find(b"\n", f.start())
                    raise GuestError("guest reported %r while waiting for %r" %
                                     (bytes(self.buf[f.start():line_end if line_end > 0 else None]).decode(errors="replace").strip(),
                                      regex.pattern))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise GuestError("timed out after %ds waiting for %r" %
                                     (timeout, regex.pattern))
                if self.eof and self.p.poll() is not None:
                    raise GuestError("petrel exited (status %s) while waiting for %r" %
                                     (self.p.returncode, regex.pattern))
                self.cv.wait(min(left, 1.0))

    def send(self, text):
        self.p.stdin.write(text.encode())
        self.p.stdin.flush()

    def mark(self):
        with self.cv:
            return len(self.buf)

    def run(self, cmd, timeout=120):
        """Run cmd in the guest shell; returns (output, exit status).

        Start and end markers bracket the output: ash's line editor wraps the
        echoed command at 80 columns, so the echo cannot be stripped by lines.
        """
        self.seq += 1
        n = self.seq
        start = self.mark()
        self.send('echo "@@S""N%d"; %s; echo "@@E""N%d $?"\n' % (n, cmd, n))
        s = self.expect(rb"@@SN%d\r?\n" % n, timeout, start)
        m = self.expect(rb"@@EN%d (\d+)" % n, timeout, s.end())
        with self.cv:
            out = bytes(self.buf[s.end():m.start()])
        return out.replace(b"\r", b"").decode(errors="replace"), int(m.group(1))

    def wait_exit(self, timeout):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            raise GuestError("petrel still running after %ds" % timeout)

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()

    def stderr_text(self):
        with self.cv:
            return bytes(self.err).decode(errors="replace")
