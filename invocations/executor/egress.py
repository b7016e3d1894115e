"""Outbound networking for execution environments: pasta, fenced by an nftables table.

Why pasta (Debian's ``passt`` package) and not slirp4netns or veth + NAT:

- it is user-mode networking: the environment's namespace gets a tap device whose far end
  is a process (pasta) that re-creates each TCP connection and UDP flow with ordinary
  sockets of the host. No host interface, route, bridge or ``ip_forward`` sysctl is added,
  so nothing of the host's routing changes and no packet of a tenant is ever forwarded by
  the host's kernel;
- one pasta per environment, attached to the namespace the executor already made (the
  Runtime API's socket stays where it is), routing in 10-40 ms and ~8 MB of memory; it
  confines itself (seccomp, an empty mount namespace, no capabilities but the two it
  needs); slirp4netns would do about the same with more moving parts (a separate API
  socket, its own sandbox flags) and is slower per packet.

The platform's public API is not reached through pasta: the executor relays
``127.0.0.1:9002`` inside to it (``platform_proxy.py``), so the fence below has no
exception for the host's loopback.

pasta runs as the environment's own uid (``identity.py``), started through ``setpriv``
with only CAP_SYS_ADMIN (to enter the namespace, which the host's user namespace owns) and
CAP_NET_ADMIN (to configure it). Every socket it opens is therefore owned by a uid of the
sandbox range, and the ``inet functory_egress`` table (nftables, host namespace, output
hook) rejects any such socket's traffic to:

- a local address of the host (``fib daddr type local``: 127.0.0.0/8, ::1, every
  interface's address, so 0.0.0.0, IPv4-mapped IPv6 and the gateway mapping all end here),
- link-local, multicast and broadcast ranges (169.254.169.254 among them),
- private networks — RFC 1918, carrier-grade NAT, IPv6 unique-local — by default, as a
  Lambda function outside a VPC reaches only the internet: on the scaled profile that is
  where the platform's database, Redis and brokers live; ``FUNCTORY_EGRESS_DENY`` replaces
  this list (the operator's own networks, or empty to let functions reach private hosts),

except the exact (address, port) pairs of ``FUNCTORY_EGRESS_ALLOW`` and the host's DNS
resolvers on port 53. pasta is started with every host-mapping feature off: no inbound
ports (``-t none -u none``), no outbound loopback splicing (``-T none -U none``), no
gateway-to-loopback mapping (``--no-map-gw``). Without nft, the table, or pasta,
environments get no network (fail closed).

DNS: ``/etc/resolv.conf`` in every sandbox names ``DNS_ADDRESS``, which pasta maps to the
host's first resolver (``--dns-forward``). On a host without a resolver names do not
resolve; addresses still work.

pasta lives in a cgroup of its own per environment (memory and pids bounded, never frozen,
owned by the executor like the environment's: the guardian kills it if the executor dies),
and is killed with its environment.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

from invocations.executor import cgroups, identity

logger = logging.getLogger(__name__)

TABLE = "functory_egress"
DNS_ADDRESS = "169.254.1.1"  # inside the namespace only; pasta forwards it to the host's
PLATFORM_PORT = 9002  # AWS_ENDPOINT_URL inside: http://127.0.0.1:9002 (platform_proxy.py)
HELPER_MEMORY_MB = 64
HELPER_PIDS = 16
# Descriptors (each flow holds one or two host sockets): bounds what one environment can
# hold of the host's sockets and ephemeral ports.
HELPER_FILES = 4096
READY_TIMEOUT_S = 2.0
# Any VpcConfig naming this subnet means "no network": the function is attached to a
# private subnet without a NAT gateway, as on AWS.
NO_EGRESS_SUBNET = "subnet-noegress"  # not hex: no real subnet id
_ALWAYS_DENIED = (
    "0.0.0.0/8",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "224.0.0.0/4",
    "255.255.255.255/32",
    "::/127",
    "::ffff:0.0.0.0/96",
    "fe80::/10",
    "ff00::/8",
)

# What FUNCTORY_EGRESS_DENY is when unset: networks that are nobody's internet.
DEFAULT_DENY = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7"

Allow = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, int]


def default_on() -> bool:
    """The operator's default: ``FUNCTORY_FUNCTION_EGRESS=off`` gives no function a network."""
    return os.environ.get("FUNCTORY_FUNCTION_EGRESS", "on").strip().lower() not in (
        "off",
        "0",
        "false",
        "no",
    )


def wanted(vpc_config: dict[str, object]) -> bool:
    """Whether a function version's configuration asks for outbound networking."""
    subnets = vpc_config.get("SubnetIds") or []
    return default_on() and not (isinstance(subnets, list) and NO_EGRESS_SUBNET in subnets)


def platform_address() -> tuple[str, int] | None:
    """The platform's public HTTP listener (``host:port``), as functions should reach it."""
    raw = os.environ.get("FUNCTORY_FUNCTION_API_ADDRESS", "").strip()
    if not raw:
        return None
    host, _, port = raw.rpartition(":")
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        logger.warning("FUNCTORY_FUNCTION_API_ADDRESS=%r is not address:port; ignored", raw)
        return None
    return (host, number) if 0 < number < 65536 else None


def endpoint_url() -> str | None:
    """What ``AWS_ENDPOINT_URL`` says inside an environment with egress: the executor's
    relay to the platform (``platform_proxy.py``)."""
    return None if platform_address() is None else f"http://127.0.0.1:{PLATFORM_PORT}"


# The services this platform serves, by the SDKs' AWS_ENDPOINT_URL_<SERVICE> names.
SERVED_SERVICES = (
    "LAMBDA",
    "CLOUDWATCH_LOGS",
    "CLOUDWATCH",
    "EVENTBRIDGE",
    "IAM",
    "STS",
    "XRAY",
)


def endpoint_variables() -> dict[str, str]:
    """``AWS_ENDPOINT_URL`` and its per-service forms, pointing the SDKs at the platform."""
    url = endpoint_url()
    if url is None:
        return {}
    variables = {"AWS_ENDPOINT_URL": url}
    variables.update({f"AWS_ENDPOINT_URL_{service}": url for service in SERVED_SERVICES})
    return variables


def resolv_conf() -> str:
    return f"nameserver {DNS_ADDRESS}\noptions timeout:2 attempts:2\n"


def _parse_allow(raw: str) -> list[Allow]:
    """``FUNCTORY_EGRESS_ALLOW``: comma-separated ``address[/prefix]:port`` entries."""
    entries: list[Allow] = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        network, _, port = item.rpartition(":")
        try:
            entries.append((ipaddress.ip_network(network.strip("[]"), strict=False), int(port)))
        except ValueError:
            logger.warning("FUNCTORY_EGRESS_ALLOW entry %r is not address[/prefix]:port", item)
    return entries


def _parse_deny(raw: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            logger.warning("FUNCTORY_EGRESS_DENY entry %r is not a network", item)
    return networks


def _resolvers() -> list[Allow]:
    found: list[Allow] = []
    with contextlib.suppress(OSError):
        for line in Path("/etc/resolv.conf").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "nameserver":
                with contextlib.suppress(ValueError):
                    found.append((ipaddress.ip_network(parts[1].split("%")[0]), 53))
    return found


def _allowed() -> list[Allow]:
    return _parse_allow(os.environ.get("FUNCTORY_EGRESS_ALLOW", "")) + _resolvers()


def _ruleset() -> str:
    """The table, created only if absent (several executors share a host), then this
    executor's allowed pairs and denied networks added to its sets."""
    uids = f"{identity.UID_BASE}-{identity.UID_BASE + identity.UID_COUNT - 1}"
    reject = "reject with icmpx admin-prohibited"
    lines = [
        f"add table inet {TABLE}",
        f"add set inet {TABLE} allow4 {{ type ipv4_addr . inet_service; flags interval; }}",
        f"add set inet {TABLE} allow6 {{ type ipv6_addr . inet_service; flags interval; }}",
        f"add set inet {TABLE} deny4 {{ type ipv4_addr; flags interval; }}",
        f"add set inet {TABLE} deny6 {{ type ipv6_addr; flags interval; }}",
        f"add chain inet {TABLE} output {{ type filter hook output priority 0; policy accept; }}",
        f"add chain inet {TABLE} sandbox",
        f"flush chain inet {TABLE} output",
        f"flush chain inet {TABLE} sandbox",
        f"add rule inet {TABLE} output meta skuid {uids} jump sandbox",
        f"add rule inet {TABLE} sandbox ip daddr . th dport @allow4 accept",
        f"add rule inet {TABLE} sandbox ip6 daddr . th dport @allow6 accept",
        f"add rule inet {TABLE} sandbox fib daddr type {{ local, broadcast, multicast, anycast }}"
        f" {reject}",
        f"add rule inet {TABLE} sandbox ip daddr @deny4 {reject}",
        f"add rule inet {TABLE} sandbox ip6 daddr @deny6 {reject}",
    ]
    denied = [ipaddress.ip_network(n) for n in _ALWAYS_DENIED]
    denied += _parse_deny(os.environ.get("FUNCTORY_EGRESS_DENY", DEFAULT_DENY))
    for network in denied:
        family = "4" if network.version == 4 else "6"
        lines.append(f"add element inet {TABLE} deny{family} {{ {network} }}")
    for network, port in _allowed():
        family = "4" if network.version == 4 else "6"
        lines.append(f"add element inet {TABLE} allow{family} {{ {network} . {port} }}")
    return "\n".join(lines) + "\n"


_ready: bool | None = None
_ready_lock = threading.Lock()


def prepare() -> bool:
    """Install the fence once per process; False (and environments get no network) if
    this host cannot run pasta or nftables, or the executor is not root."""
    global _ready
    with _ready_lock:
        if _ready is None:
            _ready = _install()
        return _ready


def _install() -> bool:
    if not default_on():
        return False
    if os.geteuid() != 0 or not os.path.exists("/proc/self/ns/net"):
        return False
    missing = [tool for tool in ("pasta", "nft", "setpriv", "prlimit") if _which(tool) is None]
    if missing:
        logger.warning("functions get no network: %s not installed", ", ".join(missing))
        return False
    nft = _which("nft")
    assert nft is not None
    run = subprocess.run([nft, "-f", "-"], input=_ruleset(), capture_output=True, text=True)
    if run.returncode != 0:
        logger.warning("functions get no network: nft refused the fence: %s", run.stderr.strip())
        return False
    return True


def _which(tool: str) -> str | None:
    return shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin")


def _argv(uid: int, netns_fd: int) -> list[str]:
    prlimit, setpriv, pasta = _which("prlimit"), _which("setpriv"), _which("pasta")
    assert prlimit is not None and setpriv is not None and pasta is not None
    caps = "+sys_admin,+net_admin"
    return [
        # pasta raises its soft limit to the hard one: both are set.
        prlimit,
        f"--nofile={HELPER_FILES}:{HELPER_FILES}",
        "--",
        setpriv,
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        f"--inh-caps=-all,{caps}",
        f"--ambient-caps={caps}",
        "--",
        pasta,
        "--foreground",
        "--quiet",
        "--config-net",
        "--tcp-ports",
        "none",
        "--udp-ports",
        "none",
        "--tcp-ns",
        "none",
        "--udp-ns",
        "none",
        "--no-map-gw",
        "--dns-forward",
        DNS_ADDRESS,
        "--netns",
        f"/proc/self/fd/{netns_fd}",  # the helper's uid may not open another's /proc entry
    ]


class Helper:
    """One environment's pasta process and its cgroup."""

    def __init__(self, process: subprocess.Popen[bytes], cgroup: cgroups.Cgroup | None) -> None:
        self.process = process
        self.cgroup = cgroup

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """Signal it, without waiting (``stop`` reaps it)."""
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()

    def stop(self) -> None:
        if self.cgroup is not None:
            self.cgroup.kill_all()
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=2)
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None


def attach(pid: int, uid: int) -> Helper | None:
    """Give the network namespace of ``pid`` a way out; blocks until it has a route out.

    None when this host cannot (then the namespace keeps only its loopback)."""
    if not prepare():
        return None
    netns = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    cgroup = None
    process = None
    try:
        cgroup = cgroups.create(
            f"net-{pid}-{time.monotonic_ns()}", cgroups.Limits(HELPER_MEMORY_MB, HELPER_PIDS)
        )
        process = subprocess.Popen(
            _argv(uid, netns),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # a full pipe would stall it
            pass_fds=[netns],
            start_new_session=True,
        )
        if cgroup is not None:
            # Before it can fork: its helpers are short-lived clones made after setup.
            cgroup.add(process.pid)
        helper = Helper(process, cgroup)
        if not _wait_configured(pid, process):
            error = _stderr(process)
            helper.stop()
            logger.warning("pasta did not configure the environment's network: %s", error)
            return None
        return helper
    except BaseException:
        if process is not None:
            Helper(process, cgroup).stop()
        elif cgroup is not None:
            cgroup.remove()
        raise
    finally:
        os.close(netns)


def _stderr(process: subprocess.Popen[bytes]) -> str:
    code = process.poll()
    return "timed out" if code is None else f"pasta exited with status {code}"


def _wait_configured(pid: int, process: subprocess.Popen[bytes]) -> bool:
    """Until the namespace has a default route (pasta adds it once the tap is up)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with open(f"/proc/{pid}/net/route") as table:
                next(table, None)
                if any(line.split()[1:2] == ["00000000"] for line in table):
                    return True
        except OSError:
            return False  # the environment is gone
        time.sleep(0.001)
    return False


def wait_detached(pid: int) -> None:
    """After its pasta is gone: until the namespace of ``pid`` has no route left (the tap
    device goes with pasta's last descriptor), so a function that must have no network
    finds none."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/net/route") as table:
                if len(table.read().splitlines()) <= 1:
                    return
        except OSError:
            return  # the environment is gone
        time.sleep(0.001)
    raise RuntimeError("the network of an environment outlived its pasta")
