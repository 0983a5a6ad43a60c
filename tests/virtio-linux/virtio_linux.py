#!/usr/bin/env python3
"""Boot Debian's kernel under Petrel with virtio devices and check them from
inside the guest, driving the busybox shell over the console's pipes.

Usage: virtio_linux.py PETREL SRCDIR MODE [ACCEL]
  MODE devices: one boot with a rw disk, a ro disk, slirp networking with a
                port forward, virtio-rng and virtio-balloon; checks each.
  MODE console: one boot with --console virtio and console=hvc0.
  MODE debian-disk: boot IMAGE (env PETREL_DEBIAN_IMG; skipped when
                unset) through the virtio initramfs to a login
                prompt (opt-in; slow under the software CPU).
Exits 0 when every check passes, 1 when one fails, 77 when the guest cannot
be built here. Prints 'N passed, N failed' last.
"""
import http.server
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

BOOT_TIMEOUT = float(os.environ.get('PETREL_BOOT_TIMEOUT', '240'))


def log(msg):
    print(msg, flush=True)


class Guest:
    """A petrel process whose console is on our pipes."""

    def __init__(self, argv, logpath):
        self.buf = b''
        self.lock = threading.Condition()
        self.logf = open(logpath, 'wb')
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.seq = 0
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        while True:
            chunk = self.proc.stdout.read1(65536)
            if not chunk:
                break
            self.logf.write(chunk)
            self.logf.flush()
            with self.lock:
                self.buf += chunk
                self.lock.notify_all()
        with self.lock:
            self.lock.notify_all()

    def wait_for(self, text, timeout, start=0):
        """Returns the index just past text in the output, or -1."""
        text = text.encode()
        end = time.monotonic() + timeout
        with self.lock:
            while True:
                i = self.buf.find(text, start)
                if i >= 0:
                    return i + len(text)
                left = end - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return -1
                self.lock.wait(min(left, 1.0))

    def send(self, line):
        self.proc.stdin.write(line.encode() + b'\n')
        self.proc.stdin.flush()

    def run(self, cmd, timeout=60):
        """Runs cmd in the guest shell; returns (status, output) or (None, partial)."""
        self.seq += 1
        tag = 'PTL%d' % self.seq
        with self.lock:
            start = len(self.buf)
        # The markers are built by the shell so the echoed command line
        # itself never matches them.
        sep = ' ' if cmd.rstrip().endswith('&') else '; '
        self.send('echo "@@B""%s"; %s%secho "@@E""%s $?"' % (tag, cmd, sep, tag))
        b = self.wait_for('@@B' + tag + '\r\n', timeout, start)
        if b < 0:
            b = self.wait_for('@@B' + tag + '\n', 1, start)
        if b < 0:
            return None, ''
        e = self.wait_for('@@E' + tag + ' ', timeout, b)
        if e < 0:
            with self.lock:
                return None, self.buf[b:].decode(errors='replace')
        nl = self.wait_for('\n', 5, e)
        with self.lock:
            out = self.buf[b:e - len('@@E' + tag + ' ')].decode(errors='replace')
            st = self.buf[e:nl].decode(errors='replace').strip()
        try:
            return int(st), out.replace('\r', '')
        except ValueError:
            return None, out

    def close(self, timeout=30):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.failures = []

    def check(self, name, ok, detail=''):
        if ok:
            self.passed += 1
            log('PASS %s' % name)
        else:
            self.failed += 1
            self.failures.append('%s %s' % (name, detail))
            log('FAIL %s %s' % (name, detail))
        return ok

    def finish(self):
        # Again after the console tail, which meson's error log may cut.
        for f in self.failures:
            print('FAILED: ' + f[:300])
        print('%d passed, %d failed' % (self.passed, self.failed))
        return 0 if self.failed == 0 else 1


def skip(msg):
    print('SKIP: ' + msg)
    sys.exit(77)


def build_guest(srcdir):
    guest = os.environ.get('PETREL_GUEST_DIR', os.path.join(srcdir, 'build', 'guest'))
    r = subprocess.run([os.path.join(srcdir, 'tools', 'build-virtio-initramfs.sh'), guest],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        skip('cannot build the virtio guest here: ' + r.stderr.strip()[-500:])
    return os.path.join(guest, 'vmlinuz'), r.stdout.strip().splitlines()[-1]


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


PROG_BYTES = 3 << 20  # the disk carrying dmaexec (a size no other disk has)


def build_dmaexec(srcdir, tmp):
    """tests/virtio-linux/dmaexec.c, static, on a raw disk image; None (and why) if no cc."""
    exe = os.path.join(tmp, 'dmaexec')
    r = subprocess.run([os.environ.get('CC', 'cc'), '-O1', '-static', '-o', exe,
                        os.path.join(srcdir, 'tests', 'virtio-linux', 'dmaexec.c')],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        return None, r.stdout.strip()[-300:]
    img = os.path.join(tmp, 'prog.img')
    with open(exe, 'rb') as f, open(img, 'wb') as o:
        data = f.read()
        if len(data) > PROG_BYTES:
            return None, 'dmaexec is larger than its disk'
        o.write(data)
        o.truncate(PROG_BYTES)
    return img, ''


def mode_devices(petrel, srcdir, accel, tmp, c):
    kernel, initrd = build_guest(srcdir)
    prog, why_no_prog = build_dmaexec(srcdir, tmp)
    rw = os.path.join(tmp, 'rw.img')
    ro = os.path.join(tmp, 'ro.img')
    with open(rw, 'wb') as f:
        f.truncate(64 << 20)
    ro_content = bytes((i * 7) & 0xff for i in range(8 << 20))
    with open(ro, 'wb') as f:
        f.write(ro_content)

    # The page the guest fetches, served on the host's loopback; slirp maps
    # 10.0.2.2 to the host's 127.0.0.1.
    webroot = os.path.join(tmp, 'www')
    os.mkdir(webroot)
    page = 'petrel-virtio-net-page %d\n' % os.getpid()
    with open(os.path.join(webroot, 'page.txt'), 'w') as f:
        f.write(page)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=webroot, **k)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Quiet)
    http_port = httpd.server_address[1]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()

    fwd_port = free_port()
    argv = [petrel, 'run', '--accel', accel, '--kernel', kernel, '--initrd', initrd,
            '--cmdline', 'console=ttyS0 panic=-1', '--mem', '512',
            '--disk', rw, '--disk', ro + ',ro',
            '--net', 'user,hostfwd=tcp::%d-:7777' % fwd_port,
            '--rng', '--balloon']
    if prog:
        argv[argv.index('--rng'):argv.index('--rng')] = ['--disk', prog + ',ro']
    log('booting: ' + ' '.join(argv))
    t0 = time.monotonic()
    g = Guest(argv, os.path.join(tmp, 'console.log'))
    try:
        ready = g.wait_for('virtio-initramfs: ready', BOOT_TIMEOUT)
        if not c.check('boot to the shell', ready >= 0,
                       '(no ready line within %ds)' % BOOT_TIMEOUT):
            return
        log('boot took %.1f s' % (time.monotonic() - t0))
        with g.lock:
            bootlog = g.buf.decode(errors='replace')
        c.check('every module loaded', 'FAILED to load' not in bootlog)

        # Which vdX is which: by size, so enumeration order does not matter.
        st, out = g.run('for d in /sys/block/vd*; do echo "${d##*/} $(cat $d/size) $(cat $d/ro)"; done')
        disks = {}
        for line in out.split('\n'):
            p = line.split()
            if len(p) == 3 and p[1].isdigit():
                disks[int(p[1]) * 512] = (p[0], p[2])
        c.check('blk: rw disk seen with its size', (64 << 20) in disks, repr(out))
        c.check('blk: ro disk seen with its size and ro flag',
                disks.get(8 << 20, ('', ''))[1] == '1', repr(out))
        rwdev = '/dev/' + disks.get(64 << 20, ('vda',))[0]
        rodev = '/dev/' + disks.get(8 << 20, ('vdb',))[0]

        pattern = 'PETREL-BLK-PATTERN-%d' % os.getpid()
        st, out = g.run('echo %s > /tmp/pat && dd if=/tmp/pat of=%s bs=512 seek=4097 conv=sync '
                        '&& sync' % (pattern, rwdev))
        c.check('blk: dd to the rw disk and sync', st == 0, repr(out))
        st, out = g.run('dd if=%s bs=512 skip=100 count=1 2>/dev/null | od -An -tx1 | head -1'
                        % rodev)
        want = ' '.join('%02x' % b for b in ro_content[100 * 512:100 * 512 + 16])
        c.check('blk: ro disk reads the image bytes', want in out, repr(out) + ' want ' + want)
        st, out = g.run('echo x | dd of=%s bs=512 seek=1 conv=sync' % rodev)
        c.check('blk: ro disk refuses writes', st is not None and st != 0, repr(out))

        c.check('net: DHCP lease from slirp', 'udhcpc: eth0 bound to 10.0.2.' in bootlog)
        st, out = g.run('ifconfig eth0 | grep "inet addr"')
        log('net: ' + out.strip())
        st, out = g.run('wget -q -O - http://10.0.2.2:%d/page.txt' % http_port, timeout=60)
        c.check('net: wget from the host http server', page.strip() in out, repr(out))

        # hostfwd: the guest listens, the host connects to its forwarded port.
        st, out = g.run('(echo guest-says-hi; sleep 4) | nc -l -p 7777 > /tmp/nc.out 2>&1 &')
        time.sleep(2)
        got = b''
        try:
            s = socket.create_connection(('127.0.0.1', fwd_port), timeout=20)
            s.sendall(b'host-says-hi\n')
            s.settimeout(20)
            while b'guest-says-hi' not in got:
                d = s.recv(4096)
                if not d:
                    break
                got += d
            s.close()
        except OSError as e:
            got += repr(e).encode()
        c.check('net: hostfwd reaches nc in the guest (guest to host)',
                b'guest-says-hi' in got, repr(got))
        time.sleep(3)
        st, out = g.run('cat /tmp/nc.out')
        c.check('net: hostfwd carries host data to the guest', 'host-says-hi' in out, repr(out))

        # A device write (DMA) over code the CPU already ran: the CPU must run the new bytes.
        if prog:
            progdev = '/dev/' + disks.get(PROG_BYTES, ('vdc',))[0]
            st, out = g.run('dd if=%s of=/tmp/dmaexec bs=4096 2>/dev/null && chmod +x /tmp/dmaexec'
                            ' && /tmp/dmaexec %s %d' % (progdev, rwdev, 1 << 20), timeout=60)
            c.check('blk: a read over code the CPU ran is run as the new code',
                    'first 0x41 then 0x42' in out, repr(out))
        else:
            log('SKIP blk DMA-over-code check: cannot build a static dmaexec here: ' + why_no_prog)

        st, out = g.run('cat /sys/class/misc/hw_random/rng_current')
        c.check('rng: rng_current is virtio_rng', 'virtio_rng' in out, repr(out))
        st, out = g.run('dd if=/dev/hwrng bs=64 count=1 2>/dev/null | od -An -tx1 | tr -d " \\n"')
        hexs = out.strip()
        c.check('rng: /dev/hwrng gives bytes', len(hexs) == 128 and hexs != '0' * 128,
                repr(out))

        st, out = g.run('ls /sys/bus/virtio/drivers/virtio_balloon/')
        c.check('balloon: driver bound to a device', 'virtio' in out, repr(out))

        t1 = time.monotonic()
        g.send('poweroff -f')
        rc = g.close(60)
        c.check('poweroff ends petrel with status 0', rc == 0, 'status %r' % rc)
        log('poweroff took %.1f s' % (time.monotonic() - t1))
        with open(rw, 'rb') as f:
            f.seek(4097 * 512)
            data = f.read(512)
        c.check('blk: host finds the pattern in the image',
                data.startswith(pattern.encode() + b'\n'), repr(data[:40]))
        with open(ro, 'rb') as f:
            c.check('blk: ro image unchanged', f.read() == ro_content)
    finally:
        g.close(1)
        httpd.shutdown()


def mode_console(petrel, srcdir, accel, tmp, c):
    kernel, initrd = build_guest(srcdir)
    argv = [petrel, 'run', '--accel', accel, '--kernel', kernel, '--initrd', initrd,
            '--cmdline', 'console=hvc0 panic=-1', '--mem', '512', '--console', 'virtio']
    log('booting: ' + ' '.join(argv))
    t0 = time.monotonic()
    g = Guest(argv, os.path.join(tmp, 'console.log'))
    try:
        # The kernel's own messages go to hvc0 only once virtio_console is
        # loaded, so the shell's answer is the test.
        ready = g.wait_for('virtio-initramfs: ready', BOOT_TIMEOUT)
        if ready < 0:
            # /init's early output may go nowhere if /dev/console could not
            # be opened; ask the shell directly.
            pass
        st, out = g.run('echo hvc-$((6*7)); tty; cat /sys/class/tty/console/active', timeout=30)
        if st is None:
            st, out = g.run('echo hvc-$((6*7)); tty; cat /sys/class/tty/console/active',
                            timeout=60)
        c.check('console: the shell answers on virtio-console', 'hvc-42' in out, repr(out))
        c.check('console: the shell\'s terminal is hvc0', '/dev/hvc0' in out, repr(out))
        log('console boot took %.1f s' % (time.monotonic() - t0))
        g.send('poweroff -f')
        rc = g.close(60)
        c.check('poweroff ends petrel with status 0', rc == 0, 'status %r' % rc)
    finally:
        g.close(1)


def mode_debian_disk(petrel, srcdir, accel, tmp, c):
    # Opt-in even within its own suite: a plain `meson test` must not spend
    # half an hour here just because an image happens to exist.
    img = os.environ.get('PETREL_DEBIAN_IMG')
    if not img:
        skip('set PETREL_DEBIAN_IMG to a disk from tools/build-debian-disk.sh')
    if not os.path.exists(img):
        skip('no Debian disk at %s (make it with tools/build-debian-disk.sh)' % img)
    kernel, initrd = build_guest(srcdir)
    # A copy-free run would change the image; boot a scratch copy.
    work = os.path.join(tmp, 'debian.img')
    subprocess.run(['cp', '--sparse=always', img, work], check=True)
    ssh_port = free_port()
    argv = [petrel, 'run', '--accel', accel, '--kernel', kernel, '--initrd', initrd,
            '--cmdline', 'root=/dev/vda console=ttyS0 panic=-1', '--mem', '1024',
            '--disk', work, '--net', 'user,hostfwd=tcp::%d-:22' % ssh_port]
    log('booting: ' + ' '.join(argv))
    t0 = time.monotonic()
    g = Guest(argv, os.path.join(tmp, 'console.log'))
    try:
        limit = float(os.environ.get('PETREL_DEBIAN_TIMEOUT', '1500'))
        sr = g.wait_for('switch_root to /dev/vda', limit)
        c.check('debian: initramfs switch_roots to /dev/vda', sr >= 0)
        if sr >= 0:
            log('switch_root after %.1f s' % (time.monotonic() - t0))
        sd = g.wait_for('systemd', limit - (time.monotonic() - t0), max(sr, 0))
        if sd >= 0:
            log('systemd started after %.1f s' % (time.monotonic() - t0))
        lp = g.wait_for('login:', limit - (time.monotonic() - t0), max(sr, 0))
        c.check('debian: login prompt on ttyS0', lp >= 0)
        if lp >= 0:
            log('login prompt after %.1f s' % (time.monotonic() - t0))
            g.send('root')
            if g.wait_for('assword:', 60, lp) >= 0:
                g.send('petrel')
            ok = g.wait_for('root@petrel', 120, lp)
            c.check('debian: root logs in', ok >= 0)
            if ok >= 0:
                st, out = g.run('uname -r; findmnt -n -o SOURCE /', timeout=120)
                c.check('debian: root is /dev/vda', '/dev/vda' in out, repr(out))
                # networkd may still be waiting for its lease.
                for _ in range(30):
                    st, out = g.run('ip -4 -o addr show scope global', timeout=60)
                    if '10.0.2.' in out:
                        break
                    time.sleep(5)
                c.check('debian: networkd DHCP address', '10.0.2.' in out, repr(out))
                banner = b''
                try:
                    s = socket.create_connection(('127.0.0.1', ssh_port), timeout=60)
                    s.settimeout(60)
                    banner = s.recv(256)
                    s.close()
                except OSError as e:
                    banner = repr(e).encode()
                c.check('debian: sshd answers through hostfwd', banner.startswith(b'SSH-2.0-'),
                        repr(banner))
            g.send('poweroff')
        rc = g.close(300)
        log('total %.1f s, petrel status %r' % (time.monotonic() - t0, rc))
    finally:
        g.close(1)


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    petrel, srcdir, mode = sys.argv[1:4]
    accel = sys.argv[4] if len(sys.argv) > 4 else 'emu'
    c = Checks()
    with tempfile.TemporaryDirectory(prefix='petrel-vlinux-') as tmp:
        try:
            {'devices': mode_devices, 'console': mode_console,
             'debian-disk': mode_debian_disk}[mode](petrel, srcdir, accel, tmp, c)
        finally:
            logp = os.path.join(tmp, 'console.log')
            keep = os.environ.get('PETREL_KEEP_LOG')
            if c.failed and os.path.exists(logp):
                with open(logp, 'rb') as f:
                    tail = f.read()[-4000:].decode(errors='replace')
                print('--- last console output ---\n' + tail)
            if keep and os.path.exists(logp):
                subprocess.run(['cp', logp, keep])
    return c.finish()


if __name__ == '__main__':
    sys.exit(main())
