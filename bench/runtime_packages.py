"""No-op functions for each runtime the bench compares (``bench/invoke.py --runtime``).

Each returns ``(Runtime, Handler, zip bytes)`` of a handler that returns ``{}`` and logs
nothing, so the runtimes are compared on the same work: none. Java and Go are compiled here
with the host's JDK and Go toolchain (the Java interfaces from the platform's own jar).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RUBY = "def lambda_handler(event:, context:)\n  {}\nend\n"

JAVA = """package bench;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.HashMap;
import java.util.Map;

public class Noop implements RequestHandler<Map<String, Object>, Map<String, Object>> {
    @Override
    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        return new HashMap<>();
    }
}
"""


def _zip(files: dict[str, bytes], executable: frozenset[str] = frozenset()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o755 if name in executable else 0o644) << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def python() -> tuple[str, str, bytes]:
    return (
        "python3.11",
        "app.handler",
        _zip({"app.py": b"def handler(event, context):\n    return {}\n"}),
    )


def ruby() -> tuple[str, str, bytes]:
    return "ruby3.3", "lambda_function.lambda_handler", _zip({"lambda_function.rb": RUBY.encode()})


def java() -> tuple[str, str, bytes]:
    from invocations.executor import javaruntime

    lib = javaruntime.ensure_built()
    compiler = javaruntime.javac()
    if lib is None or compiler is None:
        raise SystemExit("java: no JDK on this host")
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "bench" / "Noop.java"
        source.parent.mkdir()
        source.write_text(JAVA)
        classes = Path(work) / "classes"
        subprocess.run(
            [
                compiler,
                "-cp",
                str(lib / "aws-lambda-java-core.jar"),
                "-d",
                str(classes),
                str(source),
            ],
            check=True,
        )
        files = {
            str(path.relative_to(classes)): path.read_bytes() for path in classes.rglob("*.class")
        }
    return "java17", "bench.Noop::handleRequest", _zip(files)


def go() -> tuple[str, str, bytes]:
    """The console's Go blueprint without its log line."""
    toolchain = shutil.which("go")
    if toolchain is None:
        raise SystemExit("go: no Go toolchain on this host (scripts/sdk-clients.sh installs it)")
    source = ROOT / "console" / "go_blueprint"
    with tempfile.TemporaryDirectory() as work:
        for name in ("main.go", "go.mod"):
            text = (source / name).read_text()
            if name == "main.go":
                text = "\n".join(
                    line for line in text.splitlines() if "Hello from Functory" not in line
                )
            (Path(work) / name).write_text(text)
        env = {
            **os.environ,
            "GOFLAGS": "",
            "GOPROXY": "off",
            "CGO_ENABLED": "0",
            "GOCACHE": str(Path(tempfile.gettempdir()) / "functory-go-cache"),
            "GOPATH": str(Path(work) / "gopath"),
        }
        subprocess.run(
            [toolchain, "build", "-trimpath", "-o", "bootstrap", "."], cwd=work, env=env, check=True
        )
        binary = (Path(work) / "bootstrap").read_bytes()
    return "provided.al2023", "bootstrap", _zip({"bootstrap": binary}, frozenset({"bootstrap"}))


PACKAGES = {"python": python, "ruby": ruby, "java": java, "go": go}
