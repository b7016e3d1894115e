"""A stand-in for "the internet" in egress tests, and a host service functions must not reach.

``OutsideHost`` is a network namespace joined to the host by a veth pair: an HTTP server at
``198.18.<n>.2:80`` (also answering at 169.254.169.254:80, the metadata address, routed
there from the host), and a UDP echo on port 7. ``HostService`` listens on every address
of the host itself (0.0.0.0 and ::) and greets with a secret: reachable from a function,
the fence is broken.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

SERVER = r"""
import socket, socketserver, threading, http.server

class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello from outside"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

def echo():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", 7))
    while True:
        data, peer = sock.recvfrom(2048)
        sock.sendto(b"echo:" + data, peer)

threading.Thread(target=echo, daemon=True).start()
http.server.ThreadingHTTPServer(("0.0.0.0", 80), Page).serve_forever()
"""

SECRET = b"host-secret-service\n"


@dataclass
class OutsideHost:
    namespace: str
    address: str  # the HTTP server, not an address of this host
    host_side: str  # the veth's host end: an address of this host


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


_instances = itertools.count()
_SUBNETS_LOCK = "/tmp/functory-outside-subnets.lock"


def _claim_subnet(device: str) -> int:
    """A 198.18.<n>.0/24 no other outside host of this machine uses (the test suite's two
    profiles run side by side), given to ``device``; chosen under a lock across processes."""
    with open(_SUBNETS_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        raw = subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, check=True)
        used = {
            info["local"]
            for interface in json.loads(raw.stdout)
            for info in interface.get("addr_info", [])
        }
        for subnet in range(100, 250):
            if f"198.18.{subnet}.1" not in used:
                _ip("addr", "add", f"198.18.{subnet}.1/24", "dev", device)
                return subnet
    raise RuntimeError("no free 198.18.x.0/24 for an outside host")


# Module-scoped: each test module that imports it gets its own (a fixture imported into
# several modules is one fixture per module), so names and subnets are per instance.
@pytest.fixture(scope="module")
def outside_host() -> Iterator[OutsideHost]:
    if os.geteuid() != 0:
        pytest.skip("needs root to make a network namespace")
    instance = next(_instances)
    tag = f"{os.getpid() % 100000}x{instance}"
    namespace, outer, inner = f"fnout{tag}", f"fo{tag}", "veth0"
    _ip("netns", "add", namespace)
    server = None
    try:
        _ip("link", "add", outer, "type", "veth", "peer", "name", inner, "netns", namespace)
        subnet = _claim_subnet(outer)
        host_side, address = f"198.18.{subnet}.1", f"198.18.{subnet}.2"
        _ip("link", "set", outer, "up")
        for args in (
            ("addr", "add", f"{address}/24", "dev", inner),
            ("addr", "add", "169.254.169.254/32", "dev", inner),
            ("link", "set", inner, "up"),
            ("link", "set", "lo", "up"),
            ("route", "add", "default", "via", host_side),
        ):
            _ip("-n", namespace, *args)
        _ip("route", "replace", "169.254.169.254/32", "dev", outer)
        server = subprocess.Popen(
            ["ip", "netns", "exec", namespace, sys.executable, "-c", SERVER],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection((address, 80), 1):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the outside host's server did not start")
            time.sleep(0.05)
        yield OutsideHost(namespace, address, host_side)
    finally:
        if server is not None:
            server.kill()
            server.wait()
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("route", "del", "169.254.169.254/32", "dev", outer)
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("link", "del", outer)
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("netns", "del", namespace)


@dataclass
class HostService:
    port: int


@pytest.fixture(scope="module")
def host_service() -> Iterator[HostService]:
    """A TCP service on every address of the host (IPv4 and IPv6), greeting with a secret,
    and a UDP one on the same port number answering each datagram with it."""
    listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    listener.bind(("::", 0))
    listener.listen(64)
    datagrams = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    datagrams.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    datagrams.bind(("::", listener.getsockname()[1]))
    stop = threading.Event()

    def answer() -> None:
        while not stop.is_set():
            try:
                _, peer = datagrams.recvfrom(2048)
                datagrams.sendto(SECRET, peer)
            except OSError:
                return

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn, contextlib.suppress(OSError):
                conn.sendall(SECRET)

    for target in (serve, answer):
        threading.Thread(target=target, daemon=True).start()
    try:
        yield HostService(listener.getsockname()[1])
    finally:
        stop.set()
        listener.close()
        datagrams.close()


def host_addresses() -> list[str]:
    """Every address of this host's interfaces (link-local IPv6 ones need a scope: left out)."""
    raw = subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, check=True).stdout
    found = []
    for interface in json.loads(raw):
        for info in interface.get("addr_info", []):
            address = ipaddress.ip_address(info["local"])
            if not (address.version == 6 and address.is_link_local):
                found.append(str(address))
    return found


# Function code: probes in parallel; "open" only when the service's first bytes arrive.
PROBE = r"""
import json, os, socket, threading

def connect(host, port, timeout=2.0):
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as sock:
            sock.settimeout(timeout)
            sock.connect(address)
            sock.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            data = sock.recv(200)
            return "open:" + data.decode(errors="replace") if data else "closed:empty"
    except OSError as exc:
        return "closed:" + type(exc).__name__

def datagram(host, port, timeout=2.0):
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        with socket.socket(family, kind, proto) as sock:
            sock.settimeout(timeout)
            sock.sendto(b"ping", address)
            return "open:" + sock.recvfrom(200)[0].decode(errors="replace")
    except OSError as exc:
        return "closed:" + type(exc).__name__

def gateway():
    with open("/proc/net/route") as table:
        for line in list(table)[1:]:
            fields = line.split()
            if fields[1] == "00000000":
                return socket.inet_ntoa(bytes.fromhex(fields[2])[::-1])
    return None

def handler(event, context):
    targets = [tuple(t) for t in event.get("targets", [])]
    if event.get("gateway_port") and gateway():
        targets.append((gateway(), event["gateway_port"]))
    results = {}
    def run(host, port):
        results[f"{host}|{port}"] = connect(host, port)
    def run_udp(host, port):
        results[f"udp:{host}|{port}"] = datagram(host, port)
    threads = [threading.Thread(target=run, args=t) for t in targets]
    threads += [threading.Thread(target=run_udp, args=t) for t in event.get("udp_targets", [])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    udp = None
    if event.get("udp"):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(3)
        try:
            sock.sendto(b"ping", (event["udp"], 7))
            udp = sock.recvfrom(100)[0].decode()
        except OSError as exc:
            udp = "closed:" + type(exc).__name__
    return {
        "results": results,
        "udp": udp,
        "uid": os.getuid(),
        "gateway": gateway(),
        "resolv": open("/etc/resolv.conf").read(),
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
        "endpoint_lambda": os.environ.get("AWS_ENDPOINT_URL_LAMBDA"),
    }
"""
