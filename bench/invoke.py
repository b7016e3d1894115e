"""Warm and cold invoke latency, each next to its baseline measured in the same run.

    python bench/invoke.py [--warm N] [--cold N] [--docker | --docker-only] [--recreate N]
    python bench/invoke.py --recreate-only [--recreate N]
    python bench/invoke.py --runtime ruby --runtime java --runtime go [--warm N] [--cold N]

- warm: p50/p99 of a signed Invoke of a Python no-op through the HTTP API, beside a no-op
  JSON view (``/healthz``) of the same server over the same kind of connection;
- cold: p50/p99 of first invokes (a new environment each), beside ``bwrap … python3 -c
  pass``;
- Docker backend (``--docker``; ``--docker-only`` runs just this section): a second server
  with ``FUNCTORY_EXECUTOR_BACKEND=docker``; warm Invoke p50/p99 of the same no-op on each
  server, then cold Invokes (a new function each, at most 15) on each beside ``docker run
  --rm <runtime image> python3 -c pass``, all interleaved; ratios docker/sandbox (warm:
  target ~1x, the Runtime API is the same) and ``docker run``/sandbox cold (target >= 15x);
- throughput: warm invokes/s from 4 client threads beside the no-op view's requests/s;
- density (``--density N``): N functions invoked once each, so N idle warm environments;
  each one's proportional set size (PSS: shared pages counted by share, the sum of
  ``/proc/PID/smaps_rollup`` over its cgroup's processes) and how many fit in 4 GB;
- burst (``--burst 10,50,200``): for each count of concurrent clients, a fresh function gets
  ``--burst-requests`` invokes from that many client threads at once, cold at first (the
  storm case): p50/p99 and p99/p50 (target <= 10x), errors, and how many environments the
  server started (its REPORT lines with an ``Init Duration``);
- re-created (``--recreate N``, 15; ``--recreate-only``): on a server with a 0.3 s
  keep-alive, cold starts of functions already invoked once (their environment reaped in
  between: configuration, code and role known), a no-op's and one importing boto3 at init,
  then the same two as SnapStart versions (forked from their template), beside ``bwrap …
  python3 -c pass`` (target <= 0.5x); and a Node.js no-op's, beside ``bwrap … node -e 0``.

With ``--runtime``, only cold and warm p50/p99 of a no-op in each named runtime beside
Python's, interleaved in one run (``bench/runtime_packages.py`` builds them).
"""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

from common import (
    Credentials,
    SignedClient,
    hello_zip,
    lambda_client,
    noop_function,
    percentiles,
    report,
    server,
    throughput,
    timed_invoke,
)

ROLE = "arn:aws:iam::123456789012:role/bench"


def member_with_twenty_statements(srv) -> Credentials:  # type: ignore[no-untyped-def]
    """A user of the bench account whose only permissions are 20 policy statements, the
    last of them the one that allows invoking ``warm``."""
    import json

    import boto3
    from iam_policy import twenty_statements

    iam = boto3.client(
        "iam",
        endpoint_url=srv.url,
        region_name="us-east-1",
        aws_access_key_id=srv.credentials.access_key,
        aws_secret_access_key=srv.credentials.secret_key,
    )
    iam.create_user(UserName="member")
    document = json.loads(twenty_statements(srv.account_id))
    document["Statement"][-1] = {
        "Sid": "Warm",
        "Effect": "Allow",
        "Action": "lambda:InvokeFunction",
        "Resource": f"arn:aws:lambda:us-east-1:{srv.account_id}:function:warm",
        "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}},
    }
    # Two managed policies of ten statements (a 20-statement document passes IAM's 6,144
    # characters for one): all twenty are scanned, the allowing one last.
    statements = document["Statement"]
    for part, chunk in enumerate((statements[:10], statements[10:])):
        arn = iam.create_policy(
            PolicyName=f"twenty-{part}",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": chunk}),
        )["Policy"]["Arn"]
        iam.attach_user_policy(UserName="member", PolicyArn=arn)
    key = iam.create_access_key(UserName="member")["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def timed(fn, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def bare_bwrap(program: tuple[str, ...] = ("/usr/bin/python3", "-c", "pass")) -> None:
    from invocations.executor.sandbox import bwrap_path

    subprocess.run(
        [
            bwrap_path(),
            "--unshare-all",
            "--die-with-parent",
            "--ro-bind",
            "/usr",
            "/usr",
            "--symlink",
            "usr/lib",
            "/lib",
            "--symlink",
            "usr/lib64",
            "/lib64",
            "--symlink",
            "usr/bin",
            "/bin",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--tmpfs",
            "/tmp",
            *program,
        ],
        check=True,
    )


def bare_bwrap_node() -> None:
    bare_bwrap(("/usr/bin/node", "-e", "0"))


def node_zip() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.js", "exports.handler = async () => ({ ok: true });\n")
    return buffer.getvalue()


def compare_runtimes(srv, runtimes: list[str], warm_n: int, cold_n: int) -> None:  # type: ignore[no-untyped-def]
    """Cold and warm p50 of a no-op per runtime, Python's first, all interleaved."""
    from runtime_packages import PACKAGES

    lam = lambda_client(srv)
    client = SignedClient(srv)
    names = ["python", *[r for r in runtimes if r != "python"]]
    packages = {name: PACKAGES[name]() for name in names}
    for name, (runtime, handler, code) in packages.items():
        for i in range(cold_n + 1):  # function 0 stays warm
            lam.create_function(
                FunctionName=f"{name}-{i}",
                Runtime=runtime,
                Handler=handler,
                Role=ROLE,
                Code={"ZipFile": code},
            )

    cold: dict[str, list[float]] = {name: [] for name in names}
    warm: dict[str, list[float]] = {name: [] for name in names}
    for i in range(1, cold_n + 1):
        order = names if i % 2 else names[::-1]
        for name in order:
            cold[name].append(timed_invoke(client, f"{name}-{i}"))
    for name in names:
        for _ in range(20):
            timed_invoke(client, f"{name}-0")
    for _ in range(warm_n):
        for name in names:
            warm[name].append(timed_invoke(client, f"{name}-0"))
    rows = []
    for name in names:
        rows.append((f"cold Invoke, {packages[name][0]}", percentiles(cold[name])))
        rows.append((f"warm Invoke, {packages[name][0]}", percentiles(warm[name])))
    report("Runtimes: a no-op's cold and warm Invoke (sandbox, same run)", rows)
    base_cold, base_warm = percentiles(cold["python"])["p50"], percentiles(warm["python"])["p50"]
    for name in names[1:]:
        print(
            f"  {name}: cold p50 {percentiles(cold[name])['p50'] / base_cold:.2f}x python's, "
            f"warm p50 {percentiles(warm[name])['p50'] / base_warm:.2f}x python's"
        )


def docker_backend(srv, code: bytes, warm_n: int, cold_n: int) -> None:  # type: ignore[no-untyped-def]
    """Warm and cold Invoke of a no-op on a Docker-backend server beside the same on
    ``srv`` (sandbox), and ``docker run --rm``, interleaved so all see the same noise."""
    import os

    image = os.environ.get("FUNCTORY_DOCKER_IMAGE", "functory/runtime:latest")
    docker_run = ["docker", "run", "--rm", "--network", "none", image, "python3", "-c", "pass"]
    with server(extra_env={"FUNCTORY_EXECUTOR_BACKEND": "docker"}) as docker_srv:
        clients = {"sandbox": SignedClient(srv), "docker": SignedClient(docker_srv)}
        for backend_srv in (srv, docker_srv):
            lam = lambda_client(backend_srv)
            for i in range(cold_n + 1):  # backend-0 stays warm
                noop_function(lam, f"backend-{i}", code, ROLE)
        # backend-0's first invoke extracts the shared package (so the cold runs measure
        # environments); the rest warm every path up.
        for _ in range(20):
            for client in clients.values():
                timed_invoke(client, "backend-0")
        warm: dict[str, list[float]] = {name: [] for name in clients}
        cold: dict[str, list[float]] = {name: [] for name in clients}
        docker: list[float] = []
        names = list(clients)
        for i in range(warm_n):
            for name in names if i % 2 else names[::-1]:  # each goes first half the time
                warm[name].append(timed_invoke(clients[name], "backend-0"))
        for i in range(1, cold_n + 1):
            for name in names if i % 2 else names[::-1]:
                cold[name].append(timed_invoke(clients[name], f"backend-{i}"))
            docker += timed(lambda: subprocess.run(docker_run, check=True), 1)
    stats = {f"warm {name}": percentiles(warm[name]) for name in names}
    stats |= {f"cold {name}": percentiles(cold[name]) for name in names}
    report(
        "Docker backend vs sandbox backend (two servers, same no-op, same run, interleaved)",
        [
            ("warm Invoke (python3.11, sandbox)", stats["warm sandbox"]),
            ("warm Invoke (python3.11, docker)", stats["warm docker"]),
            ("cold Invoke (python3.11, sandbox)", stats["cold sandbox"]),
            ("cold Invoke (python3.11, docker)", stats["cold docker"]),
            ("docker run --rm <image> python3 -c pass", percentiles(docker)),
        ],
    )

    def ratio(a: str, b: str, key: str = "p50") -> float:
        return stats[a][key] / stats[b][key]

    run_p50 = percentiles(docker)["p50"]
    print(
        f"  warm docker / sandbox: p50 {ratio('warm docker', 'warm sandbox'):.2f}x, "
        f"p99 {ratio('warm docker', 'warm sandbox', 'p99'):.2f}x  (target ~1x: same Runtime API)"
    )
    print(
        f"  cold docker / sandbox: p50 {ratio('cold docker', 'cold sandbox'):.2f}x, "
        f"p99 {ratio('cold docker', 'cold sandbox', 'p99'):.2f}x"
    )
    print(f"  cold docker Invoke / docker run p50: {stats['cold docker']['p50'] / run_p50:.2f}x")
    print(
        f"  docker run / cold sandbox Invoke p50: {run_p50 / stats['cold sandbox']['p50']:.1f}x "
        "(target >= 15x)"
    )


def burst(srv, code: bytes, clients: int, requests: int) -> tuple[dict[str, float], int, int]:  # type: ignore[no-untyped-def]
    """``requests`` invokes of a new function from ``clients`` threads started together:
    their latencies, the errors, and the environments started for them."""
    import threading

    lam = lambda_client(srv)
    name = noop_function(lam, f"burst-{clients}", code, ROLE)
    path = f"/2015-03-31/functions/{name}/invocations"
    latencies: list[float] = []
    errors = [0]
    left = [requests]
    lock = threading.Lock()
    gate = threading.Barrier(clients)

    def run() -> None:
        local = SignedClient(srv)
        gate.wait()
        while True:
            with lock:
                if not left[0]:
                    return
                left[0] -= 1
            prepared = local.prepare("POST", path, b"{}")
            start = time.perf_counter()
            try:
                status = local.send(prepared)[0]
            except OSError:
                status = 0
                local = SignedClient(srv)
            elapsed = (time.perf_counter() - start) * 1000
            with lock:
                latencies.append(elapsed)
                errors[0] += status != 200

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    logs = lambda_client(srv, "logs")
    started = 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the last REPORT lines are stored a moment later
        token = None
        counted = 0
        while True:
            page = logs.filter_log_events(
                logGroupName=f"/aws/lambda/{name}",
                filterPattern='"Init Duration"',
                **({"nextToken": token} if token else {}),
            )
            counted += len(page["events"])
            token = page.get("nextToken")
            if not token:
                break
        if counted == started and counted:
            break
        started = counted
        time.sleep(0.5)
    return percentiles(latencies), errors[0], started


def _environment_cgroups(server_pid: int) -> list[Path]:
    """The memory cgroups of the environments the server at ``server_pid`` owns."""
    from invocations.executor import cgroups

    token = cgroups.owner_token(server_pid)
    base = Path("/sys/fs/cgroup/memory/functory")  # v1
    if not base.is_dir():
        base = Path("/sys/fs/cgroup/functory")  # v2
    return sorted(path for path in base.glob(f"o{token}-*") if path.is_dir())


def _pss_kb(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def density(srv, code: bytes, count: int) -> None:  # type: ignore[no-untyped-def]
    lam = lambda_client(srv)
    for i in range(count):
        lam.invoke(FunctionName=noop_function(lam, f"idle-{i}", code, ROLE), Payload=b"{}")
    time.sleep(1)  # frozen once idle
    # Each environment has a cgroup (bwrap, the runtime) and, with egress, one for its
    # network helper (pasta): an environment's share is the sum over both kinds.
    cgroups = _environment_cgroups(srv.pid)
    environments = [c for c in cgroups if "-env-" in c.name]
    sizes = {}
    for cgroup in cgroups:
        pids = [int(p) for p in (cgroup / "cgroup.procs").read_text().split()]
        sizes[cgroup.name] = sum(_pss_kb(pid) for pid in pids) / 1024
    if not environments:
        print("\nDensity: no environment cgroups found (is the sandbox backend in use?)")
        return
    runtimes = [sizes[c.name] for c in environments]
    mean = sum(sizes.values()) / len(environments)
    print(
        f"\nDensity: {len(environments)} idle warm Python environments (standbys included): "
        f"PSS per environment {mean:.1f} MB with its network helper (the runtime's cgroup "
        f"alone: mean {sum(runtimes) / len(runtimes):.1f} MB, min {min(runtimes):.1f}, "
        f"max {max(runtimes):.1f}); {int(4096 // mean)} fit in 4 GB"
    )
    snap_start_density(srv, count)


def snap_start_density(srv, count: int) -> None:  # type: ignore[no-untyped-def]
    """``count`` environments of one SnapStart version (invoked at once), forked from one
    template: their pages are the template's until written (copy on write), and they
    share its network helper."""
    from concurrent.futures import ThreadPoolExecutor

    lam = lambda_client(srv)
    before = set(_environment_cgroups(srv.pid))
    sleeper = "import time\n\ndef handler(event, context):\n    time.sleep(event['sleep'])\n"
    lam.create_function(
        FunctionName="idle-snap",
        Runtime="python3.12",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": hello_zip(sleeper)},
        SnapStart={"ApplyOn": "PublishedVersions"},
    )
    version = lam.publish_version(FunctionName="idle-snap")["Version"]

    def invoke(_: int) -> None:
        lam.invoke(FunctionName="idle-snap", Qualifier=version, Payload=b'{"sleep": 1}')

    with ThreadPoolExecutor(count) as clients:
        list(clients.map(invoke, range(count)))
    time.sleep(1)
    family = [c for c in _environment_cgroups(srv.pid) if c not in before and "-env-" in c.name]
    if len(family) < 2:
        print("\nDensity, SnapStart: no forked environments found")
        return
    pids = [int(pid) for cgroup in family for pid in (cgroup / "cgroup.procs").read_text().split()]
    total = sum(_pss_kb(pid) for pid in pids) / 1024
    forks = len(family) - 1  # the template's own cgroup aside
    print(
        f"Density, SnapStart: {forks} environments forked from one template (a spare among "
        f"them): PSS {total / forks:.1f} MB per environment, the template's share included; "
        f"{int(4096 // (total / forks))} fit in 4 GB"
    )


def recreated(n: int) -> None:
    """Cold starts of an environment re-created for a function already invoked (after the
    keep-alive reaped its last one: its configuration, code and role are known), beside a
    bare sandbox start; and the same for a function that imports boto3 at init, the part
    a template fork of an initialised environment would also skip."""
    heavy = hello_zip("import boto3\n\ndef handler(event, context):\n    return 1\n")
    with server({"FUNCTORY_KEEP_ALIVE_SECONDS": "0.3"}) as srv:
        lam = lambda_client(srv)
        client = SignedClient(srv)
        names = [noop_function(lam, "again", hello_zip(), ROLE)]
        names.append(noop_function(lam, "again-boto3", heavy, ROLE))
        lam.create_function(
            FunctionName="again-node",
            Runtime="nodejs20.x",
            Handler="index.handler",
            Role=ROLE,
            Code={"ZipFile": node_zip()},
        )
        names.append("again-node")
        for name, code in (("snap", hello_zip()), ("snap-boto3", heavy)):
            # SnapStart: a published version's environments forked from its template.
            lam.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Handler="app.handler",
                Role=ROLE,
                Code={"ZipFile": code},
                SnapStart={"ApplyOn": "PublishedVersions"},
            )
            names.append(f"{name}:{lam.publish_version(FunctionName=name)['Version']}")
        series: dict[str, list[float]] = {name: [] for name in names}
        warm: dict[str, list[float]] = {name: [] for name in names}
        bwrap: list[float] = []
        bwrap_node: list[float] = []
        for i in range(n + 1):
            for name in names:
                time.sleep(1.0)  # reaped (the reaper looks every 0.15 s)
                took = timed_invoke(client, name)
                again = timed_invoke(client, name)  # the same environment, warm
                if i:  # the first extracts the code and checks the role
                    series[name].append(took)
                    warm[name].append(again)
            bwrap += timed(bare_bwrap, 1)
            bwrap_node += timed(bare_bwrap_node, 1)
    rows = [
        ("bwrap ... python3 -c pass", percentiles(bwrap[1:])),
        ("re-created environment, no-op", percentiles(series["again"])),
        ("re-created environment, imports boto3", percentiles(series["again-boto3"])),
        ("SnapStart (forked from its template), no-op", percentiles(series["snap:1"])),
        ("SnapStart, imports boto3", percentiles(series["snap-boto3:1"])),
        ("bwrap ... node -e 0", percentiles(bwrap_node[1:])),
        ("re-created environment, Node.js no-op", percentiles(series["again-node"])),
    ]
    report("Cold start of a function already known (re-created after reaping)", rows)
    bare = percentiles(bwrap[1:])["p50"]
    ratio = percentiles(series["again"])["p50"] / bare
    print(f"  ratio p50, re-created: {ratio:.2f}x  (target <= 0.5x)")
    ratio = percentiles(series["snap:1"])["p50"] / bare
    print(f"  ratio p50, SnapStart: {ratio:.2f}x  (target <= 0.5x)")
    ratio = percentiles(series["snap-boto3:1"])["p50"] / bare
    print(f"  ratio p50, SnapStart importing boto3: {ratio:.2f}x")
    ratio = percentiles(series["again-node"])["p50"] / percentiles(bwrap_node[1:])["p50"]
    print(f"  ratio p50, Node.js re-created / bare node: {ratio:.2f}x  (target <= 0.5x)")
    # What the start itself adds: each cold Invoke less the warm one right after it.
    bare_node = percentiles(bwrap_node[1:])["p50"]
    labels = (
        ("again", "re-created", bare),
        ("snap:1", "SnapStart", bare),
        ("again-node", "Node.js", bare_node),
    )
    for name, label, baseline in labels:
        added = [cold - hot for cold, hot in zip(series[name], warm[name], strict=True)]
        p50 = percentiles(added)["p50"]
        ratio = p50 / baseline
        print(f"  {label}: cold - warm Invoke p50 {p50:.2f} ms = {ratio:.2f}x its bare bwrap")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warm", type=int, default=1000)
    parser.add_argument("--cold", type=int, default=40)
    parser.add_argument("--docker", action="store_true")
    parser.add_argument("--docker-only", action="store_true")
    parser.add_argument("--runtime", action="append", choices=["python", "ruby", "java", "go"])
    parser.add_argument("--burst", default="10,50,200", help="client counts ('' for none)")
    parser.add_argument("--burst-requests", type=int, default=2000)
    parser.add_argument("--burst-only", action="store_true")
    parser.add_argument("--density", type=int, default=20, help="idle environments (0: none)")
    parser.add_argument("--density-only", action="store_true")
    parser.add_argument("--recreate", type=int, default=15, help="re-created cold starts")
    parser.add_argument("--recreate-only", action="store_true")
    args = parser.parse_args()
    import os
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

    if args.recreate_only:
        recreated(args.recreate)
        return
    with server() as srv:
        if args.runtime:
            compare_runtimes(srv, args.runtime, min(args.warm, 300), min(args.cold, 15))
            return
        lam = lambda_client(srv)
        code = hello_zip()
        if args.burst_only:
            burst_curve(srv, code, args)
            return
        if args.density_only:
            density(srv, code, args.density)
            return
        if args.docker_only:
            docker_backend(srv, code, args.warm, min(args.cold, 15))
            return
        lam.create_function(
            FunctionName="warm",
            Runtime="python3.11",
            Handler="app.handler",
            Role=ROLE,
            Code={"ZipFile": code},
        )
        client = SignedClient(srv)
        # The same Invoke by a user whose 20-statement policy is evaluated on every call.
        member = SignedClient(srv, member_with_twenty_statements(srv))
        invoke_path = "/2015-03-31/functions/warm/invocations"
        assert client.send(client.prepare("POST", invoke_path, b"{}"))[0] == 200
        assert member.send(member.prepare("POST", invoke_path, b"{}"))[0] == 200
        for _ in range(50):  # warm every path up
            client.get("/healthz")
            client.send(client.prepare("POST", invoke_path, b"{}"))
            member.send(member.prepare("POST", invoke_path, b"{}"))

        noop: list[float] = []
        warm: list[float] = []
        policed: list[float] = []
        for _ in range(args.warm):  # interleaved, so all see the same machine noise
            start = time.perf_counter()
            client.get("/healthz")
            noop.append((time.perf_counter() - start) * 1000)
            for signer, series in ((client, warm), (member, policed)):
                prepared = signer.prepare("POST", invoke_path, b"{}")
                start = time.perf_counter()
                status, _, _ = signer.send(prepared)
                series.append((time.perf_counter() - start) * 1000)
                assert status == 200
        noop_stats, warm_stats = percentiles(noop), percentiles(warm)
        policed_stats = percentiles(policed)
        report(
            "Warm invoke vs a no-op JSON view (same server, same connection type)",
            [
                ("no-op JSON view GET /healthz", noop_stats),
                ("warm Invoke (python3.11, sandbox), account admin", warm_stats),
                ("warm Invoke, user with a 20-statement policy", policed_stats),
            ],
        )
        print(f"  ratio p50: {warm_stats['p50'] / noop_stats['p50']:.2f}x  (target <= 1.5x)")
        print(
            f"  20-statement policy / admin p50: {policed_stats['p50'] / warm_stats['p50']:.2f}x"
            "  (target <= 1.1x)"
        )

        offline_vpc = {"SubnetIds": ["subnet-noegress"], "SecurityGroupIds": []}
        for i in range(args.cold):
            noop_function(lam, f"cold-{i}", code, ROLE)
            # The same, without outbound networking (no pasta to attach: egress.py).
            noop_function(lam, f"cold-offline-{i}", code, ROLE, VpcConfig=offline_vpc)
        # One invoke extracts the shared package, so the cold runs measure environments.
        client.send(client.prepare("POST", "/2015-03-31/functions/cold-0/invocations", b"{}"))
        cold: list[float] = []
        offline: list[float] = []
        bwrap: list[float] = []
        for i in range(1, args.cold):  # interleaved: with and without egress, bare bwrap
            pair = [(f"cold-{i}", cold), (f"cold-offline-{i}", offline)]
            for name, series in pair if i % 2 else pair[::-1]:  # each goes first half the time
                series.append(timed_invoke(client, name))
            bwrap += timed(bare_bwrap, 1)
        rows = [
            ("bwrap ... python3 -c pass", percentiles(bwrap)),
            ("cold Invoke (python3.11, sandbox)", percentiles(cold)),
            ("cold Invoke, no egress (VpcConfig subnet-noegress)", percentiles(offline)),
        ]
        report("Cold start vs bare sandbox start (same run)", rows)
        cold_p50 = percentiles(cold)["p50"]
        print(f"  ratio p50: {cold_p50 / percentiles(bwrap)['p50']:.2f}x  (target <= 3x)")
        print(f"  egress costs a cold start: {cold_p50 - percentiles(offline)['p50']:+.1f} ms p50")
        if args.docker:
            docker_backend(srv, code, args.warm, min(args.cold, 15))

        def invoker():  # type: ignore[no-untyped-def]
            local = SignedClient(srv)
            return lambda: local.send(local.prepare("POST", invoke_path, b"{}"))

        def getter():  # type: ignore[no-untyped-def]
            local = SignedClient(srv)
            return lambda: local.get("/healthz")

        noop_rps = throughput(getter)
        invoke_rps = throughput(invoker)
        print("\nSustained throughput, 4 client threads, 5 s each")
        print(
            f"  no-op view: {noop_rps:8.0f} req/s   warm Invoke: {invoke_rps:8.0f} req/s   "
            f"ratio {invoke_rps / noop_rps:.0%} (target >= 60%)"
        )
        if args.density:
            density(srv, code, args.density)
        burst_curve(srv, code, args)
    if args.recreate:
        recreated(args.recreate)


def burst_curve(srv, code: bytes, args: argparse.Namespace) -> None:  # type: ignore[no-untyped-def]
    import os

    counts = [int(n) for n in args.burst.split(",") if n.strip()]
    if not counts:
        return
    print(
        f"\nBurst: {args.burst_requests} invokes of a cold no-op from N clients at once "
        f"({os.cpu_count()} CPUs; target p99 <= 10x p50, no errors)"
    )
    for clients in counts:
        stats, errors, started = burst(srv, code, clients, args.burst_requests)
        print(
            f"  {clients:4d} clients  p50 {stats['p50']:8.1f} ms  p99 {stats['p99']:8.1f} ms  "
            f"p99/p50 {stats['p99'] / stats['p50']:5.1f}x  errors {errors}  "
            f"environments started {started}"
        )


if __name__ == "__main__":
    main()
