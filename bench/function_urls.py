"""A function URL vs the Invoke API vs a no-op view, measured in one run.

    python bench/function_urls.py [--n N] [--seconds S]

The same warm Python no-op (``{'ok': True}``) is called through a public function URL (path
form, ``GET /lambda-url/<id>/``), an AWS_IAM one (signed, as Invoke is) and a signed Invoke;
``/healthz`` is the
no-op baseline over the same kind of keep-alive connection. Latencies are interleaved so
all of them see the same machine noise; throughput is 4 client threads for S seconds each.
Target: a URL request adds at most 1.2x to a warm Invoke (p50).
"""

from __future__ import annotations

import argparse
import http.client
import json
import time

from common import (
    SignedClient,
    hello_zip,
    lambda_client,
    percentiles,
    report,
    server,
    throughput,
)

ROLE = "arn:aws:iam::123456789012:role/bench"


class UrlClient:
    """A keep-alive client for an unsigned function URL request."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.conn = http.client.HTTPConnection(host, port)
        self.path = path

    def get(self) -> tuple[int, bytes]:
        self.conn.request("GET", self.path)
        response = self.conn.getresponse()
        return response.status, response.read()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()

    with server() as srv:
        lam = lambda_client(srv)
        lam.create_function(
            FunctionName="web",
            Runtime="python3.11",
            Handler="app.handler",
            Role=ROLE,
            Code={"ZipFile": hello_zip()},
        )

        def make_url(auth: str, qualifier: str | None = None) -> str:
            """A URL and the two statements AWS requires of one, through the API."""
            where = {"Qualifier": qualifier} if qualifier else {}
            url = lam.create_function_url_config(FunctionName="web", AuthType=auth, **where)
            principal = "*" if auth == "NONE" else srv.account_id
            lam.add_permission(
                FunctionName="web",
                StatementId=f"url-{auth}",
                Action="lambda:InvokeFunctionUrl",
                Principal=principal,
                FunctionUrlAuthType=auth,
                **where,
            )
            lam.add_permission(
                FunctionName="web",
                StatementId=f"invoke-{auth}",
                Action="lambda:InvokeFunction",
                Principal=principal,
                InvokedViaFunctionUrl=True,
                **where,
            )
            return "/" + str(url["FunctionUrl"]).split("/", 3)[3]

        url_path = make_url("NONE")
        lam.publish_version(FunctionName="web")
        lam.create_alias(FunctionName="web", Name="iam", FunctionVersion="1")
        iam_path = make_url("AWS_IAM", "iam")
        invoke_path = "/2015-03-31/functions/web/invocations"
        client = SignedClient(srv)
        url = UrlClient(srv.host, srv.port, url_path)
        status, body = url.get()
        assert status == 200 and json.loads(body) == {"ok": True}, (status, body)
        for _ in range(50):  # warm every path up
            client.get("/healthz")
            client.send(client.prepare("POST", invoke_path, b"{}"))
            url.get()
            client.send(client.prepare("GET", iam_path))

        noop, invoke, via_url, via_iam = [], [], [], []
        for _ in range(args.n):
            start = time.perf_counter()
            client.get("/healthz")
            noop.append((time.perf_counter() - start) * 1000)
            prepared = client.prepare("POST", invoke_path, b"{}")
            start = time.perf_counter()
            status, _, _ = client.send(prepared)
            invoke.append((time.perf_counter() - start) * 1000)
            assert status == 200
            start = time.perf_counter()
            status, _ = url.get()
            via_url.append((time.perf_counter() - start) * 1000)
            assert status == 200
            prepared = client.prepare("GET", iam_path)
            start = time.perf_counter()
            status, _, _ = client.send(prepared)
            via_iam.append((time.perf_counter() - start) * 1000)
            assert status == 200
        noop_stats, invoke_stats, url_stats = (
            percentiles(noop),
            percentiles(invoke),
            percentiles(via_url),
        )
        report(
            "Function URL vs Invoke vs a no-op view (same server, keep-alive connections)",
            [
                ("no-op JSON view GET /healthz", noop_stats),
                ("warm Invoke (python3.11, sandbox)", invoke_stats),
                ("function URL GET (NONE, path form)", url_stats),
                ("function URL GET (AWS_IAM, signed)", percentiles(via_iam)),
            ],
        )
        print(
            f"  ratio p50 URL / Invoke: {url_stats['p50'] / invoke_stats['p50']:.2f}x "
            "(target <= 1.2x)"
        )

        def getter():  # type: ignore[no-untyped-def]
            local = SignedClient(srv)
            return lambda: local.get("/healthz")

        def invoker():  # type: ignore[no-untyped-def]
            local = SignedClient(srv)
            return lambda: local.send(local.prepare("POST", invoke_path, b"{}"))

        def url_getter():  # type: ignore[no-untyped-def]
            local = UrlClient(srv.host, srv.port, url_path)
            return local.get

        noop_rps = throughput(getter, args.seconds)
        invoke_rps = throughput(invoker, args.seconds)
        url_rps = throughput(url_getter, args.seconds)
        print(f"\nSustained throughput, 4 client threads, {args.seconds:g} s each")
        print(
            f"  no-op view: {noop_rps:8.0f} req/s   warm Invoke: {invoke_rps:8.0f} req/s   "
            f"function URL: {url_rps:8.0f} req/s   URL / Invoke {url_rps / invoke_rps:.0%}"
        )


if __name__ == "__main__":
    main()
