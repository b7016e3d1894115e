"""Container-image functions (PackageType=Image): the API as AWS answers it, and the same
image run by both backends: the sandbox unpacks its layers into a read-only root, Docker
runs it as a container. Images are built in the test with the local engine."""

from __future__ import annotations

import contextlib
import io
import re
import stat
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ROLE, ROOT, client_error, client_for, create_user, make_zip
from invocations.tests.helpers import invoke

pytestmark = [pytest.mark.live, pytest.mark.docker]

BASE = "functory/base:bookworm-2"
RUNTIME_PY = Path(__file__).resolve().parents[1] / "executor" / "runtimes" / "python"

# A Runtime API client of the image's own (no AWS runtime interface client): it answers
# each event with what it sees, and probes the paths the event names.
PROBE = r"""
import json, os, sys, urllib.request
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
base = f"http://{api}/2018-06-01/runtime/invocation"
while True:
    with urllib.request.urlopen(f"{base}/next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read() or b"null") or {}
    probes = {}
    for path in event.get("read", []):
        key = "read:" + path
        try:
            with open(path, "rb") as handle:
                probes[key] = handle.read(64).decode(errors="replace")
        except Exception as exc:
            probes[key] = type(exc).__name__
    for path in event.get("stat", []):
        key = "stat:" + path
        try:
            probes[key] = oct(os.lstat(path).st_mode)
        except Exception as exc:
            probes[key] = type(exc).__name__
    for path in event.get("listdir", []):
        key = "listdir:" + path
        try:
            probes[key] = sorted(os.listdir(path))[:20]
        except Exception as exc:
            probes[key] = type(exc).__name__
    for path in event.get("write", []):
        key = "write:" + path
        try:
            with open(path, "w") as handle:
                handle.write("x")
            probes[key] = "WRITTEN"
        except Exception as exc:
            probes[key] = type(exc).__name__
    print("probe saw", event.get("say", ""), flush=True)
    out = {
        "argv": sys.argv[1:],
        "cwd": os.getcwd(),
        "uid": os.getuid(),
        "env": {
            k: os.environ.get(k)
            for k in ("IMAGE_VAR", "FN_VAR", "_HANDLER", "HOME", "LD_LIBRARY_PATH")
        },
        "api": bool(os.environ.get("AWS_LAMBDA_RUNTIME_API")),
        "no_new_privs": [
            line.split()[1] for line in open("/proc/self/status") if line.startswith("NoNewPrivs")
        ],
        "probes": probes,
        "mountinfo": open("/proc/self/mountinfo").read() if event.get("mountinfo") else "",
    }
    request = urllib.request.Request(
        f"{base}/{rid}/response", data=json.dumps(out).encode(), method="POST"
    )
    urllib.request.urlopen(request).read()
"""

PROBE_DOCKERFILE = f"""
FROM {BASE}
COPY probe.py /opt/probe/client.py
ENV IMAGE_VAR=from-image LD_LIBRARY_PATH=/opt/probe/lib
WORKDIR /srv
ENTRYPOINT ["python3", "/opt/probe/client.py"]
CMD ["first", "second"]
"""

# AWS's base-image contract: the runtime interface client as entrypoint (here the
# platform's own Python client, copied in), the code in /var/task, the handler as CMD.
APP = """
import os
count = 0

def handler(event, context):
    global count
    count += 1
    print("contract says", event.get("name"))
    return {"count": count, "fn": context.function_name, "root": os.environ["LAMBDA_TASK_ROOT"],
            "cwd": os.getcwd()}

def other(event, context):
    return "other handler"
"""

CONTRACT_DOCKERFILE = f"""
FROM {BASE}
COPY bootstrap.py /var/runtime/bootstrap.py
COPY app.py /var/task/app.py
WORKDIR /var/task
ENTRYPOINT ["/usr/bin/python3", "/var/runtime/bootstrap.py"]
CMD ["app.handler"]
"""

HOST_FILE = str(Path(__file__).resolve())  # exists on the host, never in an image


def _context(files: dict[str, bytes | tarfile.TarInfo]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, content in files.items():
            if isinstance(content, bytes):
                info = tarfile.TarInfo(name)
                info.size = len(content)
                info.mode = 0o644
                archive.addfile(info, io.BytesIO(content))
    buffer.seek(0)
    return buffer


def _hostile_layer() -> bytes:
    """A layer with what a hostile image may hold (docker's ADD unpacks it as is)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:

        def add(info: tarfile.TarInfo, data: bytes = b"") -> None:
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data else None)

        link = tarfile.TarInfo("opt/probe/host-file")
        link.type, link.linkname = tarfile.SYMTYPE, HOST_FILE
        add(link)
        link = tarfile.TarInfo("opt/probe/host-root")
        link.type, link.linkname = tarfile.SYMTYPE, "/"
        add(link)
        suid = tarfile.TarInfo("opt/probe/suid-tool")
        suid.mode = 0o6755
        add(suid, b"#!/bin/sh\nid\n")
        device = tarfile.TarInfo("opt/probe/mem")
        device.type, device.devmajor, device.devminor, device.mode = tarfile.CHRTYPE, 1, 1, 0o666
        add(device)
        fifo = tarfile.TarInfo("opt/probe/fifo")
        fifo.type, fifo.mode = tarfile.FIFOTYPE, 0o666
        add(fifo)
        volume = tarfile.TarInfo("opt/probe/vol")
        volume.type, volume.mode = tarfile.DIRTYPE, 0o1777  # world-writable, as a VOLUME
        add(volume)
        # What glibc's loader and NSS read in root programs (the sandbox's setpriv).
        add(tarfile.TarInfo("etc/ld.so.preload"), b"/functory-preload-probe.so\n")
        add(tarfile.TarInfo("etc/nsswitch.conf"), b"passwd: functoryprobe\ngroup: functoryprobe\n")
        task = tarfile.TarInfo("var/task")
        task.type, task.linkname = tarfile.SYMTYPE, str(Path(__file__).resolve().parent)
        add(task)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def images() -> Iterator[dict[str, str]]:
    """Tagged test images (removed after): probe, contract and hostile."""
    import docker

    client = docker.from_env()
    tag = uuid.uuid4().hex[:8]
    built: dict[str, str] = {}

    def build(name: str, files: dict[str, bytes | tarfile.TarInfo]) -> str:
        reference = f"functory-test/{name}:{tag}"
        client.images.build(
            fileobj=_context(files), custom_context=True, tag=reference, rm=True, forcerm=True
        )
        built[name] = reference
        return reference

    build("probe", {"Dockerfile": PROBE_DOCKERFILE.encode(), "probe.py": PROBE.encode()})
    build(
        "contract",
        {
            "Dockerfile": CONTRACT_DOCKERFILE.encode(),
            "bootstrap.py": (RUNTIME_PY / "bootstrap.py").read_bytes(),
            "app.py": APP.encode(),
        },
    )
    build(
        "hostile",
        {
            "Dockerfile": (
                f"FROM {built['probe']}\nADD hostile.tar /\nVOLUME /opt/probe/vol\n"
            ).encode(),
            "hostile.tar": _hostile_layer(),
        },
    )
    # ``docker import`` of a tiny root: one file, no shell, no entrypoint, no command.
    tiny = io.BytesIO()
    with tarfile.open(fileobj=tiny, mode="w") as archive:
        info = tarfile.TarInfo("hello.txt")
        info.size = 2
        archive.addfile(info, io.BytesIO(b"hi"))
    client.api.import_image_from_data(tiny.getvalue(), repository="functory-test/tiny", tag=tag)
    built["tiny"] = f"functory-test/tiny:{tag}"
    try:
        yield built
    finally:
        for reference in built.values():
            with contextlib.suppress(docker.errors.DockerException):
                image_id = str(client.images.get(reference).id).removeprefix("sha256:")
                client.images.remove(f"functory/pinned:{image_id}")  # CreateFunction's pin
            with contextlib.suppress(docker.errors.DockerException):
                client.images.remove(reference, force=True)


@pytest.fixture(params=["sandbox", "docker"])
def backend(request: pytest.FixtureRequest) -> Any:
    name = "functory" if request.param == "sandbox" else "functory_docker"
    server = request.getfixturevalue(name)
    return client_for(server, create_user(server))


def _create(lam: Any, name: str, image: str, **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "FunctionName": name,
        "PackageType": "Image",
        "Role": ROLE,
        "Code": {"ImageUri": image},
        "Timeout": 60,
    }
    params.update(overrides)
    result: dict[str, Any] = lam.create_function(**params)
    return result


def _image_id(reference: str) -> str:
    import docker

    return str(docker.from_env().images.get(reference).id)


def test_an_image_with_its_own_runtime_api_client_runs_with_the_images_settings(backend, images):
    variables = {"Variables": {"FN_VAR": "fn"}}
    created = _create(backend, "probe", images["probe"], Environment=variables)
    assert created["PackageType"] == "Image"
    assert "Runtime" not in created and "Handler" not in created
    result = invoke(backend, "probe", {"say": "hi"}, LogType="Tail")
    body = result["Body"]
    assert body["argv"] == ["first", "second"]
    assert body["cwd"] == "/srv"
    assert body["env"] == {
        "IMAGE_VAR": "from-image",
        "FN_VAR": "fn",
        "_HANDLER": "first",
        "HOME": "/tmp",
        # A loader variable too (kept from root programs on the sandbox, then given back).
        "LD_LIBRARY_PATH": "/opt/probe/lib",
    }
    assert body["api"] is True
    assert body["uid"] != 0
    assert "probe saw hi" in result["Log"] and "REPORT RequestId" in result["Log"]


def test_image_config_overrides_entrypoint_command_and_working_directory(backend, images):
    _create(
        backend,
        "overridden",
        images["probe"],
        ImageConfig={
            "EntryPoint": ["/usr/bin/python3", "/opt/probe/client.py", "from-entrypoint"],
            "Command": ["from-command"],
            "WorkingDirectory": "/opt/probe",
        },
    )
    body = invoke(backend, "overridden")["Body"]
    assert body["argv"] == ["from-entrypoint", "from-command"]
    assert body["cwd"] == "/opt/probe"
    config = backend.get_function_configuration(FunctionName="overridden")
    assert config["ImageConfigResponse"] == {
        "ImageConfig": {
            "EntryPoint": ["/usr/bin/python3", "/opt/probe/client.py", "from-entrypoint"],
            "Command": ["from-command"],
            "WorkingDirectory": "/opt/probe",
        }
    }
    # UpdateFunctionConfiguration changes them; the next environment runs the new ones.
    backend.update_function_configuration(
        FunctionName="overridden", ImageConfig={"Command": ["again"]}
    )
    body = invoke(backend, "overridden")["Body"]
    assert body["argv"] == ["again"] and body["cwd"] == "/srv"


def test_an_image_on_awss_base_image_contract_runs_its_handler_warm(backend, images):
    _create(backend, "contract", images["contract"])
    first = invoke(backend, "contract", {"name": "x"}, LogType="Tail")
    assert first["Body"] == {"count": 1, "fn": "contract", "root": "/var/task", "cwd": "/var/task"}
    assert "contract says x" in first["Log"]
    assert invoke(backend, "contract")["Body"]["count"] == 2
    backend.update_function_configuration(
        FunctionName="contract", ImageConfig={"Command": ["app.other"]}
    )
    assert invoke(backend, "contract")["Body"] == "other handler"


def test_get_function_reports_the_image_and_the_digest_it_resolved_to(backend, images):
    image_id = _image_id(images["probe"])
    created = _create(backend, "described", images["probe"])
    got = backend.get_function(FunctionName="described")
    repository = images["probe"].rsplit(":", 1)[0]
    assert got["Code"] == {
        "RepositoryType": "ECR",
        "ImageUri": images["probe"],
        "ResolvedImageUri": f"{repository}@{image_id}",
    }
    assert got["Configuration"]["CodeSha256"] == image_id.removeprefix("sha256:")
    assert created["CodeSha256"] == got["Configuration"]["CodeSha256"]
    assert got["Configuration"]["CodeSize"] == 0
    assert "ImageConfigResponse" not in got["Configuration"]
    listed = backend.list_functions()["Functions"]
    assert [(f["FunctionName"], f["PackageType"]) for f in listed] == [("described", "Image")]
    backend.delete_function(FunctionName="described")
    assert backend.list_functions()["Functions"] == []


def test_a_retag_changes_nothing_until_update_function_code(backend, images):
    import docker

    client = docker.from_env()
    moving = f"functory-test/moving:{uuid.uuid4().hex[:8]}"
    client.images.get(images["probe"]).tag(moving)
    try:
        _create(backend, "pinned", moving)
        assert invoke(backend, "pinned")["Body"]["argv"] == ["first", "second"]
        client.images.get(images["contract"]).tag(moving)  # the tag now names another image
        assert invoke(backend, "pinned")["Body"]["argv"] == ["first", "second"]
        updated = backend.update_function_code(FunctionName="pinned", ImageUri=moving)
        assert updated["CodeSha256"] == _image_id(images["contract"]).removeprefix("sha256:")
        assert invoke(backend, "pinned", {"name": "y"})["Body"]["count"] == 1
        published = backend.publish_version(FunctionName="pinned")
        assert published["PackageType"] == "Image" and published["Version"] == "1"
        assert invoke(backend, "pinned", Qualifier="1")["Body"]["fn"] == "pinned"
    finally:
        client.images.remove(moving, force=True)


def _error(call: Any, **params: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as excinfo:
        call(**params)
    return client_error(excinfo)


def test_the_api_refuses_what_aws_refuses_for_image_functions(functory, images):
    creds = create_user(functory)
    lam = client_for(functory, creds)
    lam.publish_layer_version(LayerName="lib", Content={"ZipFile": make_zip()})
    layer = f"arn:aws:lambda:us-east-1:{creds.account_id}:layer:lib:1"
    refused = (
        "Please don't provide Handler or Runtime or Layer when the intended function "
        "PackageType is Image."
    )
    for extra in (
        {"Runtime": "python3.11"},
        {"Handler": "app.handler"},
        {"Layers": [layer]},
    ):
        assert _error(
            lam.create_function,
            FunctionName="bad",
            PackageType="Image",
            Role=ROLE,
            Code={"ImageUri": images["probe"]},
            **extra,
        ) == ("InvalidParameterValueException", refused, 400)
    missing = "functory-test/does-not-exist:latest"
    assert _error(
        lam.create_function,
        FunctionName="bad",
        PackageType="Image",
        Role=ROLE,
        Code={"ImageUri": missing},
    ) == (
        "InvalidParameterValueException",
        f"Source image {missing} does not exist. Provide a valid source image.",
        400,
    )
    assert _error(
        lam.create_function,
        FunctionName="bad",
        PackageType="Image",
        Role=ROLE,
        Code={"ImageUri": "Not A Valid/Reference!"},
    ) == (
        "InvalidParameterValueException",
        "Source image Not A Valid/Reference! is not valid. Provide a valid source image.",
        400,
    )
    with pytest.raises(ClientError):  # nothing was made by the refused calls
        lam.get_function(FunctionName="bad")
    _create(lam, "img", images["probe"])
    assert _error(lam.update_function_code, FunctionName="img", ZipFile=make_zip()) == (
        "InvalidParameterValueException",
        "Please provide ImageUri when updating a function with packageType Image.",
        400,
    )
    assert _error(lam.update_function_configuration, FunctionName="img", Runtime="python3.11") == (
        "InvalidParameterValueException",
        refused,
        400,
    )
    lam.create_function(
        FunctionName="zip",
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": make_zip()},
    )
    assert _error(lam.update_function_code, FunctionName="zip", ImageUri=images["probe"]) == (
        "InvalidParameterValueException",
        "Please don't provide ImageUri when updating a function with packageType Zip.",
        400,
    )
    assert (
        _error(
            lam.update_function_configuration,
            FunctionName="zip",
            ImageConfig={"Command": ["x"]},
        )[0]
        == "InvalidParameterValueException"
    )


def test_a_hostile_image_is_neutralised_on_both_backends(backend, images):
    _create(backend, "hostile", images["hostile"])
    body = invoke(
        backend,
        "hostile",
        {
            "read": ["/opt/probe/host-file", HOST_FILE, "/opt/probe/mem"],
            "stat": ["/opt/probe/suid-tool", "/opt/probe/fifo", "/opt/probe/mem"],
            "listdir": ["/var/task", "/opt/probe/host-root/opt/probe"],
            "write": ["/opt/probe/new", "/tmp/ok", "/opt/probe/vol/x"],
        },
    )["Body"]
    probes = body["probes"]
    # Absolute links resolve inside the image: the host's file is not there.
    assert probes["read:/opt/probe/host-file"] == "FileNotFoundError"
    assert probes["read:" + HOST_FILE] == "FileNotFoundError"
    assert probes["listdir:/var/task"] == "FileNotFoundError"
    assert "client.py" in probes["listdir:/opt/probe/host-root/opt/probe"]
    # A setuid program gains nothing (no new privileges), the root is read-only, and a
    # device node is dropped (sandbox) or unusable (Docker's device rules).
    assert body["no_new_privs"] == ["1"]
    assert probes["write:/opt/probe/new"] in ("OSError", "PermissionError")
    assert probes["write:/tmp/ok"] == "WRITTEN"
    # A VOLUME is no writable space beside /tmp (outside EphemeralStorage).
    assert probes["write:/opt/probe/vol/x"] in ("OSError", "PermissionError")
    assert probes["read:/opt/probe/mem"] in ("FileNotFoundError", "PermissionError")


def test_an_account_runs_its_own_registrys_image_and_no_other_accounts(functory, images):
    import docker

    owner_creds, other_creds = create_user(functory), create_user(functory)
    owner, other = client_for(functory, owner_creds), client_for(functory, other_creds)
    uri = f"{owner_creds.account_id}.dkr.ecr.us-east-1.amazonaws.com/probe:{uuid.uuid4().hex[:8]}"
    client = docker.from_env()
    client.images.get(images["probe"]).tag(uri)
    try:
        _create(owner, "own", uri)
        assert invoke(owner, "own", {})["Body"]["argv"] == ["first", "second"]
        code, message, status = _error(
            other.create_function,
            FunctionName="theirs",
            PackageType="Image",
            Role=ROLE,
            Code={"ImageUri": uri},
        )
        assert (code, status) == ("InvalidParameterValueException", 400)
        assert message == f"Source image {uri} is not valid. Provide a valid source image."
        pinned = owner.get_function(FunctionName="own")["Code"]["ResolvedImageUri"]
        digest = pinned.split("@sha256:")[1]
        for reference in (f"functory/pinned:{digest}", digest[:12], "functory/runtime:latest"):
            code, _, _ = _error(
                other.create_function,
                FunctionName="theirs",
                PackageType="Image",
                Role=ROLE,
                Code={"ImageUri": reference},
            )
            assert code == "InvalidParameterValueException", reference
    finally:
        client.images.remove(uri)


def test_the_sandbox_gives_an_images_root_programs_no_preload_or_nss_module_of_its_own(
    functory, images
):
    """The kit's setpriv runs as root inside the image's tree: a library the image names
    in /etc/ld.so.preload or an NSS module in /etc/nsswitch.conf would run as root there."""
    creds = create_user(functory)
    lam = client_for(functory, creds)
    _create(lam, "preload", images["hostile"])
    probes = invoke(lam, "preload", {"read": ["/etc/ld.so.preload", "/etc/nsswitch.conf"]})["Body"][
        "probes"
    ]
    assert probes["read:/etc/ld.so.preload"] == ""
    assert probes["read:/etc/nsswitch.conf"].startswith("passwd: files")
    logs = client_for(functory, creds, "logs")
    text = ""
    deadline = time.monotonic() + 10
    while "probe saw" not in text and time.monotonic() < deadline:
        time.sleep(0.5)
        events = logs.filter_log_events(logGroupName="/aws/lambda/preload")["events"]
        text = "\n".join(event["message"] for event in events)
    assert "probe saw" in text
    # The loader would have said it could not preload the library the image named.
    assert "functory-preload-probe" not in text


def test_the_sandbox_drops_device_nodes_fifos_and_setuid_bits_from_images(functory, images):
    lam = client_for(functory, create_user(functory))
    _create(lam, "hostile", images["hostile"])
    paths = ["/opt/probe/fifo", "/opt/probe/mem", "/opt/probe/suid-tool"]
    probes = invoke(lam, "hostile", {"stat": paths})["Body"]["probes"]
    assert probes["stat:/opt/probe/fifo"] == "FileNotFoundError"
    assert probes["stat:/opt/probe/mem"] == "FileNotFoundError"
    assert int(probes["stat:/opt/probe/suid-tool"], 8) == stat.S_IFREG | 0o755


@pytest.mark.parametrize("server_name", ["functory", "functory_docker"])
def test_an_image_functions_mount_table_names_no_host_path_of_the_platform(
    request, server_name, images
):
    server = request.getfixturevalue(server_name)
    lam = client_for(server, create_user(server))
    _create(lam, "plain", images["probe"])
    body = invoke(lam, "plain", {"listdir": ["/"], "mountinfo": True})["Body"]
    assert body["uid"] != 0
    assert ".functory" in body["probes"]["listdir:/"]
    data_dir = Path(server.env["FUNCTORY_DATA_DIR"])
    forbidden = [str(ROOT), str(data_dir), data_dir.name, "image-roots", "image-kit", ".venv"]
    for path in forbidden:
        assert path not in body["mountinfo"], (path, body["mountinfo"])
    paths = re.split(r"[\s,=:]+", body["mountinfo"])
    assert not [p for p in paths if p == "/work" or p.startswith("/work/")], body["mountinfo"]


def test_an_image_that_names_no_program_or_a_missing_one_fails_alike_on_both(backend, images):
    _create(backend, "tiny", images["tiny"])
    assert _error(backend.invoke, FunctionName="tiny") == (
        "InvalidRuntimeException",
        "The function's image sets no entrypoint and no command, and its ImageConfig none.",
        502,
    )
    backend.update_function_configuration(
        FunctionName="tiny", ImageConfig={"EntryPoint": ["/no/such/program"]}
    )
    result = invoke(backend, "tiny")
    assert result["FunctionError"] == "Unhandled"
    assert result["Body"] == {
        "errorMessage": "Error: fork/exec /no/such/program: no such file or directory",
        "errorType": "Runtime.InvalidEntrypoint",
    }


def test_a_missing_working_directory_is_awss_init_error_on_both(backend, images):
    _create(backend, "nowhere", images["probe"], ImageConfig={"WorkingDirectory": "/no/where"})
    result = invoke(backend, "nowhere")
    assert result["FunctionError"] == "Unhandled"
    assert result["Body"] == {
        "errorMessage": "Error: chdir /no/where: no such file or directory",
        "errorType": "Runtime.InvalidWorkingDirectory",
    }
