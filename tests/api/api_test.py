#!/usr/bin/python3
"""End-to-end test of petrel's Firecracker-compatible API (docs/api.md).

usage: api_test.py PETREL HALT_BIN HELLO_BIN FIRECRACKER_YAML

Starts `petrel run --api-sock` with and without --kernel, configures and
starts tiny test guests, exercises pause/resume/metrics, every rejection
petrel promises (status code and JSON fault body, state unchanged), and then
checks every request it made against Firecracker's OpenAPI file: the path
and method exist there and the status code is listed (or covered by
`default` for errors); 200 bodies carry exactly the schema's properties.
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

PETREL, HALT, HELLO, YAML = sys.argv[1:5]
NOT_AFTER_START = "The requested operation is not supported after starting the microVM."

failures = []
log = []  # (method, route pattern, status, response json)


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


class UnixConn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(self.path)
        self.sock = s


class Petrel:
    def __init__(self, tmp, name, extra):
        self.sock = os.path.join(tmp, name + ".sock")
        self.serial = os.path.join(tmp, name + ".serial")
        self.proc = subprocess.Popen(
            [PETREL, "run", "--accel", "emu", "--serial", "file:" + self.serial,
             "--api-sock", self.sock] + extra,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 20
        while time.time() < deadline:
            if os.path.exists(self.sock):
                try:
                    self.request("GET", "/", route=None)
                    return
                except OSError:
                    pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("petrel did not serve %s: %s" % (self.sock, self.proc.stderr.read()))

    def request(self, method, path, body=None, raw=None, route="", headers=None):
        c = UnixConn(self.sock)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        hdrs = {"Content-Type": "application/json", "Accept": "application/json"}
        hdrs.update(headers or {})
        c.request(method, path, body=data, headers=hdrs)
        r = c.getresponse()
        text = r.read()
        c.close()
        j = json.loads(text) if text else None
        if route is not None:
            log.append((method, route or path, r.status, j))
        return r.status, j

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


def expect(p, method, path, status, body=None, raw=None, route="", contains=None, what=""):
    st, j = p.request(method, path, body=body, raw=raw, route=route)
    label = "%s %s %s" % (method, path, what)
    check(st == status, "%s: status %d, expected %d (%r)" % (label, st, status, j))
    if status >= 400:
        check(isinstance(j, dict) and isinstance(j.get("fault_message"), str)
              and list(j) == ["fault_message"], "%s: no JSON fault body: %r" % (label, j))
        if contains and isinstance(j, dict):
            check(contains in j.get("fault_message", ""),
                  "%s: fault_message %r lacks %r" % (label, j.get("fault_message"), contains))
    check(p.alive(), "%s: petrel died" % label)
    return j


def negative_cases(p, disk):
    """Every rejection before start; none may change the configuration."""
    before = expect(p, "GET", "/vm/config", 200)
    big = b'{"kernel_image_path": "' + b"a" * 60000 + b'"}'
    expect(p, "PUT", "/boot-source", 413, raw=big, route="(oversized)", what="oversized")
    expect(p, "PUT", "/boot-source", 400, raw=b'{"kernel_image_path": ', contains="JSON")
    expect(p, "PUT", "/boot-source", 400, raw=b'["x"]', contains="object")
    expect(p, "PUT", "/boot-source", 400, raw=b'{"a":1} trailing')
    expect(p, "PUT", "/boot-source", 400, raw=b"", contains="body is required")
    expect(p, "PUT", "/boot-source", 400, {"kernel_image_path": HALT, "bogus": 1},
           contains="`bogus`")
    expect(p, "PUT", "/boot-source", 400, {"kernel_image_path": "/nonexistent/vmlinux"},
           contains="kernel_image_path")
    expect(p, "PUT", "/boot-source", 400, {"kernel_image_path": 5}, contains="string")
    expect(p, "PUT", "/boot-source", 400, {"boot_args": "x"}, contains="missing field")
    expect(p, "PUT", "/boot-source", 400,
           {"kernel_image_path": HALT, "petrel_kernel_format": "pe"}, contains="format")
    for mc, word in (({"vcpu_count": 0, "mem_size_mib": 64}, "vcpu_count"),
                     ({"vcpu_count": 65, "mem_size_mib": 64}, "vcpu_count"),
                     ({"vcpu_count": -1, "mem_size_mib": 64}, "vcpu_count"),
                     ({"vcpu_count": 1.5, "mem_size_mib": 64}, "vcpu_count"),
                     ({"vcpu_count": 1, "mem_size_mib": 0}, "mem_size_mib"),
                     ({"vcpu_count": 1, "mem_size_mib": 1 << 40}, "mem_size_mib"),
                     ({"vcpu_count": 1, "mem_size_mib": 64, "smt": "yes"}, "smt"),
                     ({"vcpu_count": 1, "mem_size_mib": 64, "huge_pages": "2M"}, "huge_pages"),
                     ({"vcpu_count": 1}, "mem_size_mib"),
                     ({"vcpu_count": 1, "mem_size_mib": 64, "cpus": 2}, "`cpus`")):
        expect(p, "PUT", "/machine-config", 400, mc, contains=word, what=json.dumps(mc))
    expect(p, "PATCH", "/machine-config", 400, {"vcpu_count": 100}, contains="vcpu_count")
    expect(p, "PUT", "/drives/rootfs", 400, {"drive_id": "other", "is_root_device": True,
                                             "path_on_host": disk}, route="/drives/{drive_id}",
           contains="drive_id")
    expect(p, "PUT", "/drives/rootfs", 400, {"drive_id": "rootfs", "is_root_device": True,
                                             "path_on_host": "/nonexistent"},
           route="/drives/{drive_id}", contains="path_on_host")
    expect(p, "PUT", "/drives/rootfs", 400, {"drive_id": "rootfs", "is_root_device": True,
                                             "path_on_host": disk, "rate_limiter": {}},
           route="/drives/{drive_id}", contains="`rate_limiter`")
    expect(p, "PUT", "/drives/a.b", 400, {"drive_id": "a.b", "is_root_device": False,
                                          "path_on_host": disk}, route="/drives/{drive_id}")
    expect(p, "PUT", "/drives/" + "x" * 100, 400, {}, route="/drives/{drive_id}")
    expect(p, "PUT", "/network-interfaces/eth0", 400,
           {"iface_id": "eth0", "host_dev_name": "tap0,ifname=x"},
           route="/network-interfaces/{iface_id}", contains="host_dev_name")
    expect(p, "PUT", "/network-interfaces/eth0", 400, {"iface_id": "eth0"},
           route="/network-interfaces/{iface_id}", contains="host_dev_name")
    expect(p, "PUT", "/entropy", 400, {"rate_limiter": {}}, contains="`rate_limiter`")
    expect(p, "PUT", "/balloon", 400, {"amount_mib": 1}, contains="deflate_on_oom")
    expect(p, "GET", "/balloon", 400, contains="not configured")
    expect(p, "PUT", "/metrics", 400, {"metrics_path": "/nonexistent/dir/m"},
           contains="metrics_path")
    expect(p, "PATCH", "/vm", 400, {"state": "Paused"}, contains="not started")
    expect(p, "PATCH", "/vm", 400, {"state": "Frozen"}, contains="state")
    expect(p, "PUT", "/actions", 400, {"action_type": "SendCtrlAltDel"}, contains="not running")
    expect(p, "PUT", "/actions", 400, {"action_type": "FlushMetrics"}, contains="metrics")
    expect(p, "PUT", "/actions", 400, {"action_type": "InstanceStart"}, contains="boot source")
    expect(p, "PUT", "/actions", 400, {"action_type": "Explode"}, contains="unknown action")
    expect(p, "PUT", "/actions", 400, {"action_type": "InstanceStart", "x": 1}, contains="`x`")
    # HTTP-level errors (not in the YAML: see docs/api.md).
    expect(p, "DELETE", "/vm", 405, route="(405)")
    c = UnixConn(p.sock)
    c.request("PUT", "/version")
    r = c.getresponse()
    r.read()
    c.close()
    check(r.status == 405 and r.getheader("Allow") == "GET", "405 Allow header: %r"
          % r.getheader("Allow"))
    expect(p, "GET", "/actions", 405, route="(405)")
    expect(p, "POST", "/boot-source", 405, route="(405)", body={"kernel_image_path": HALT})
    expect(p, "GET", "/nope", 404, route="(404)")
    expect(p, "GET", "/snapshot/create", 404, route="(404)")
    expect(p, "GET", "/vm/config/", 404, route="(404)")
    # Malformed HTTP is answered by libmicrohttpd; petrel survives.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(p.sock)
    s.sendall(b"THIS IS NOT HTTP\r\n\r\n")
    reply = s.recv(200)
    s.close()
    check(reply.startswith(b"HTTP/1.1 400") or reply == b"", "malformed HTTP: %r" % reply[:40])
    check(p.alive(), "malformed HTTP killed petrel")
    after = expect(p, "GET", "/vm/config", 200)
    check(before == after, "rejected requests changed the configuration: %r -> %r"
          % (before, after))
    st, j = p.request("GET", "/")
    check(j["state"] == "Not started", "state after rejections: %r" % j)


def test_configured_start(tmp):
    disk = os.path.join(tmp, "disk.img")
    with open(disk, "wb") as f:
        f.truncate(1 << 20)
    metrics = os.path.join(tmp, "metrics.json")
    p = Petrel(tmp, "cfg", [])
    try:
        j = expect(p, "GET", "/", 200)
        check(j == {"id": j.get("id"), "state": "Not started", "vmm_version": j.get("vmm_version"),
                    "app_name": "petrel"}, "GET / before start: %r" % j)
        j = expect(p, "GET", "/version", 200)
        check(isinstance(j.get("firecracker_version"), str), "GET /version: %r" % j)
        negative_cases(p, disk)
        expect(p, "PUT", "/machine-config", 204, {"vcpu_count": 2, "mem_size_mib": 64,
                                                  "smt": False, "track_dirty_pages": True})
        expect(p, "PATCH", "/machine-config", 204, {"vcpu_count": 1})
        j = expect(p, "GET", "/machine-config", 200)
        check(j["vcpu_count"] == 1 and j["mem_size_mib"] == 64 and j["track_dirty_pages"],
              "machine-config after PUT+PATCH: %r" % j)
        # A kernel petrel cannot load: InstanceStart fails and nothing changes.
        expect(p, "PUT", "/boot-source", 204, {"kernel_image_path": disk})
        expect(p, "PUT", "/actions", 400, {"action_type": "InstanceStart"},
               contains="cannot start")
        check(expect(p, "GET", "/", 200)["state"] == "Not started", "state after failed start")
        expect(p, "PUT", "/boot-source", 204, {"kernel_image_path": HALT, "boot_args": "quiet"})
        expect(p, "PUT", "/drives/rootfs", 204, {"drive_id": "rootfs", "is_root_device": True,
                                                 "path_on_host": disk, "is_read_only": False},
               route="/drives/{drive_id}")
        expect(p, "PUT", "/drives/data", 400, {"drive_id": "data", "is_root_device": True,
                                               "path_on_host": disk, "is_read_only": True},
               route="/drives/{drive_id}", contains="already the root device")
        expect(p, "PUT", "/entropy", 204, {})
        expect(p, "PUT", "/balloon", 204, {"amount_mib": 0, "deflate_on_oom": True})
        j = expect(p, "GET", "/balloon", 200)
        check(j.get("deflate_on_oom") is True, "GET /balloon: %r" % j)
        expect(p, "PUT", "/metrics", 204, {"metrics_path": metrics})
        expect(p, "PUT", "/metrics", 400, {"metrics_path": metrics}, contains="already")
        expect(p, "PUT", "/actions", 204, {"action_type": "FlushMetrics"})
        j = expect(p, "GET", "/vm/config", 200)
        check(j["boot-source"] == {"kernel_image_path": HALT, "boot_args": "quiet"},
              "vm/config boot-source: %r" % j.get("boot-source"))
        check(len(j["drives"]) == 1 and j["drives"][0]["path_on_host"] == disk,
              "vm/config drives: %r" % j.get("drives"))
        check("entropy" in j and j["metrics"] == {"metrics_path": metrics},
              "vm/config entropy/metrics: %r" % j)

        expect(p, "PUT", "/actions", 204, {"action_type": "InstanceStart"})
        check(expect(p, "GET", "/", 200)["state"] == "Running", "state after InstanceStart")
        deadline = time.time() + 20
        while time.time() < deadline:
            if os.path.exists(p.serial) and b"halt guest ready" in open(p.serial, "rb").read():
                break
            time.sleep(0.1)
        check(b"halt guest ready" in open(p.serial, "rb").read(), "halt guest did not run")
        expect(p, "PATCH", "/vm", 204, {"state": "Paused"})
        check(expect(p, "GET", "/", 200)["state"] == "Paused", "state after Paused")
        expect(p, "PATCH", "/vm", 204, {"state": "Paused"}, what="twice")
        expect(p, "PATCH", "/vm", 204, {"state": "Resumed"})
        check(expect(p, "GET", "/", 200)["state"] == "Running", "state after Resumed")
        # Configuration after start is refused with Firecracker's message.
        for path, route, body in (
                ("/machine-config", "", {"vcpu_count": 1, "mem_size_mib": 64}),
                ("/boot-source", "", {"kernel_image_path": HALT}),
                ("/drives/rootfs", "/drives/{drive_id}",
                 {"drive_id": "rootfs", "is_root_device": True, "path_on_host": disk}),
                ("/network-interfaces/eth0", "/network-interfaces/{iface_id}",
                 {"iface_id": "eth0", "host_dev_name": "tap0"}),
                ("/entropy", "", {}),
                ("/balloon", "", {"amount_mib": 1, "deflate_on_oom": False})):
            expect(p, "PUT", path, 400, body, route=route, contains=NOT_AFTER_START)
        expect(p, "PATCH", "/machine-config", 400, {"vcpu_count": 1}, contains=NOT_AFTER_START)
        expect(p, "PUT", "/actions", 400, {"action_type": "InstanceStart"},
               contains=NOT_AFTER_START)
        expect(p, "PUT", "/actions", 204, {"action_type": "SendCtrlAltDel"})
        expect(p, "PUT", "/actions", 204, {"action_type": "FlushMetrics"})
        lines = open(metrics).read().splitlines()
        check(len(lines) == 2, "metrics lines: %r" % lines)
        m = json.loads(lines[-1])
        check(m["state"] == "Running" and m["uptime_ms"] >= 0 and
              set(m["vcpu_exits"]) >= {"io", "mmio", "halt", "error"} and
              m["vcpu_exits"]["halt"] >= 1, "metrics line: %r" % m)
        check(sum(json.loads(lines[0])["vcpu_exits"].values()) == 0, "metrics before start: %r" % lines[0])
        check(expect(p, "GET", "/", 200)["state"] == "Running", "state at the end")
    finally:
        p.kill()


def test_flat_guest_exits(tmp):
    """A vendor field selects the flat format; the process ends with the guest."""
    p = Petrel(tmp, "flat", [])
    try:
        expect(p, "PUT", "/machine-config", 204, {"vcpu_count": 1, "mem_size_mib": 16})
        expect(p, "PUT", "/boot-source", 204,
               {"kernel_image_path": HELLO, "petrel_kernel_format": "flat"})
        expect(p, "PUT", "/actions", 204, {"action_type": "InstanceStart"})
        rc = p.proc.wait(timeout=30)
        check(rc == 0, "hello guest: petrel exit status %d" % rc)
        check(b"Hello from a Petrel test guest" in open(p.serial, "rb").read(),
              "hello guest output missing")
        check(not os.path.exists(p.sock), "socket left behind")
    finally:
        p.kill()


def test_kernel_flag_starts(tmp):
    p = Petrel(tmp, "direct", ["--kernel", HALT, "--mem", "16"])
    try:
        check(expect(p, "GET", "/", 200)["state"] == "Running", "--kernel: not Running")
        j = expect(p, "GET", "/vm/config", 200)
        check(j.get("boot-source") == {"kernel_image_path": HALT} and
              j["machine-config"]["mem_size_mib"] == 16, "--kernel: vm/config %r" % j)
        expect(p, "PUT", "/boot-source", 400, {"kernel_image_path": HALT},
               contains=NOT_AFTER_START)
        expect(p, "PATCH", "/vm", 204, {"state": "Paused"})
        expect(p, "PATCH", "/vm", 204, {"state": "Resumed"})
    finally:
        p.kill()


def conformance():
    import yaml
    spec = yaml.safe_load(open(YAML))
    paths, defs = spec["paths"], spec["definitions"]

    def schema_of(resp):
        ref = (resp or {}).get("schema", {}).get("$ref", "")
        return defs.get(ref.rsplit("/", 1)[-1]) if ref else None

    seen = set()
    for method, route, status, body in log:
        if not route.startswith("/"):
            continue  # 404/405/413 by design: not API operations
        seen.add((method, route))
        op = paths.get(route, {}).get(method.lower())
        check(op is not None, "YAML has no %s %s" % (method, route))
        if not op:
            continue
        responses = op.get("responses", {})
        listed = status in responses or (status >= 400 and "default" in responses)
        check(listed, "%s %s: status %d not in the YAML (%s)" % (method, route, status,
                                                                 sorted(map(str, responses))))
        if status == 200:
            sch = schema_of(responses.get(200))
            if sch and isinstance(body, dict):
                props = set(sch.get("properties", {}))
                check(set(body) <= props, "%s %s: properties %s not in the schema"
                      % (method, route, sorted(set(body) - props)))
                check(set(sch.get("required", [])) <= set(body),
                      "%s %s: missing required %s" % (method, route, sch.get("required")))
    implemented = {("GET", "/"), ("GET", "/version"), ("GET", "/machine-config"),
                   ("PUT", "/machine-config"), ("PATCH", "/machine-config"),
                   ("PUT", "/boot-source"), ("PUT", "/drives/{drive_id}"),
                   ("PUT", "/network-interfaces/{iface_id}"), ("PUT", "/entropy"),
                   ("GET", "/balloon"), ("PUT", "/balloon"), ("PUT", "/metrics"),
                   ("PUT", "/actions"), ("PATCH", "/vm"), ("GET", "/vm/config")}
    check(implemented <= seen, "routes not exercised: %s" % sorted(implemented - seen))
    for m, r in implemented:
        check(m.lower() in paths.get(r, {}), "implemented route %s %s not in the YAML" % (m, r))
    print("conformance: %d requests over %d operations checked" % (len(log), len(seen)))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        test_configured_start(tmp)
        test_flat_guest_exits(tmp)
        test_kernel_flag_starts(tmp)
    skipped = False
    if os.path.exists(YAML):
        conformance()
    else:
        print("SKIP conformance: %s not found" % YAML)
        skipped = True
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("api: all checks passed (%d requests)" % len(log))
    return 77 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
