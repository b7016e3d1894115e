"""Container images as function code: an ``ImageUri`` resolved by the local Docker engine.

No registry is reachable from the platform's machines, so an image must already be in the
engine (built or loaded there). It is resolved once, when the function is created or its
code updated, to the image's content digest (its id, ``sha256:<hex>``): the function keeps
running that image whatever the tag names later, as AWS resolves a tag to a manifest digest.
The image's own Entrypoint, Cmd, WorkingDir and Env are read at the same moment, so the
executor needs only the digest to run it.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from typing import Any

from awsapi.errors import InvalidParameterValue

# Docker's reference grammar, loosely: [registry/]path[:tag][@digest], lowercase path.
_REFERENCE = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-]+[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
# Pinned so that removing or re-tagging the name leaves the function's image in the engine.
PIN_REPOSITORY = "functory/pinned"
# An account's own images are named as on AWS, by its ECR registry.
_ECR = re.compile(r"^(\d{12})\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/")


@dataclass(frozen=True)
class ResolvedImage:
    image_uri: str
    image_id: str  # sha256:<hex>, the image's content digest
    resolved_uri: str  # <repository>@sha256:<hex>
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def digest_hex(self) -> str:
        return self.image_id.removeprefix("sha256:")


def _not_valid(uri: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"Source image {uri} is not valid. Provide a valid source image.")


def _missing(uri: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"Source image {uri} does not exist. Provide a valid source image."
    )


def repository_of(uri: str) -> str:
    """``uri`` without its tag or digest."""
    name = uri.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def _client() -> Any:
    import docker

    return docker.from_env(timeout=30)


def _pull_allowed() -> bool:
    return os.environ.get("FUNCTORY_IMAGE_PULL", "off").lower() in ("1", "true", "yes", "on")


def _local_or_pulled(client: Any, uri: str) -> Any:
    """The engine's image; with FUNCTORY_IMAGE_PULL on, pulled first if it has none."""
    import docker.errors

    try:
        return client.images.get(uri)
    except docker.errors.ImageNotFound:
        if not _pull_allowed():
            raise
    try:
        return client.images.pull(uri)
    except docker.errors.APIError as exc:  # no such image there, or no registry reached
        raise docker.errors.ImageNotFound(str(exc)) from exc


def shared_repositories() -> tuple[str, ...]:
    """Repository prefixes the operator shares with every account (comma-separated in
    ``FUNCTORY_IMAGE_REPOSITORIES``, e.g. ``base/,public/``); none by default."""
    value = os.environ.get("FUNCTORY_IMAGE_REPOSITORIES", "")
    return tuple(part.strip() for part in value.split(",") if part.strip())


def check_reference(uri: str, account_id: str) -> None:
    """An account may name its own registry's images (``<its id>.dkr.ecr.<region>.
    amazonaws.com/<repo>``, as on AWS) and the repositories the operator shares: never
    another account's, the platform's own (``functory/…``, where pins live) or an image by
    its id (the engine would match any image's id prefix)."""
    if not uri or len(uri) > 1024 or not _REFERENCE.match(uri):
        raise _not_valid(uri)
    repository = repository_of(uri)
    owner = _ECR.match(uri)
    if owner is not None:
        if owner.group(1) != account_id:
            raise _not_valid(uri)
        return
    if repository.startswith("functory/") or repository in ("sha256", "functory"):
        raise _not_valid(uri)
    if re.fullmatch(r"[0-9a-f]{12,64}", repository):  # an id (prefix), not a name
        raise _not_valid(uri)
    if not any(repository.startswith(prefix) for prefix in shared_repositories()):
        raise _not_valid(uri)


def resolve(uri: str, account_id: str) -> ResolvedImage:
    """The image ``uri`` names in the local engine, or AWS's InvalidParameterValueException."""
    check_reference(uri, account_id)
    import docker.errors

    try:
        client = _client()
        image = _local_or_pulled(client, uri)
    except docker.errors.ImageNotFound as exc:
        raise _missing(uri) from exc
    except docker.errors.APIError as exc:
        if exc.status_code is not None and 400 <= exc.status_code < 500:
            raise _not_valid(uri) from exc
        raise _missing(uri) from exc
    except docker.errors.DockerException as exc:  # no engine: nothing can exist
        raise _missing(uri) from exc
    image_id = str(image.id)
    config = image.attrs.get("Config") or {}
    settings = {
        "Entrypoint": list(config.get("Entrypoint") or []),
        "Cmd": list(config.get("Cmd") or []),
        "WorkingDir": str(config.get("WorkingDir") or ""),
        "Env": [str(v) for v in config.get("Env") or []],
        "Volumes": sorted(str(path) for path in config.get("Volumes") or {}),
        "Os": str(image.attrs.get("Os") or ""),
        "Architecture": str(image.attrs.get("Architecture") or ""),
    }
    if settings["Os"] not in ("", "linux"):
        raise _not_valid(uri)
    hex_id = image_id.removeprefix("sha256:")
    with contextlib.suppress(docker.errors.DockerException):  # a precaution, not a need
        image.tag(PIN_REPOSITORY, hex_id[:64])
    return ResolvedImage(
        image_uri=uri,
        image_id=image_id,
        resolved_uri=f"{repository_of(uri)}@{image_id}",
        settings=settings,
    )
