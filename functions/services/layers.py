"""Writes and permission-checked reads for layers and layer versions.

Every lookup of a user-supplied layer name or ARN goes through one of the fetches here:
:func:`layer_version_get_for_account` for reads another account may be granted (the
``lambda:GetLayerVersion`` action of a layer version's policy), :func:`resolve_for_function`
for the layers a function names, and the owner-only checks inside the writes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from awsapi.errors import (
    AccessDenied,
    InvalidParameterValue,
    PolicyLengthExceeded,
    PreconditionFailed,
    ResourceConflict,
    ResourceNotFound,
)
from functions import arns, codestore, resource_policies
from functions.models import Layer, LayerVersion, LayerVersionStatement, new_revision_id
from functions.services import code
from iam.access import resources
from iam.models import Account
from iam.policy import Principal, RequestContext
from iam.policy.context import PrincipalType

MAX_LAYERS_PER_FUNCTION = 5
POLICY_SIZE_LIMIT = 20_480
GET_LAYER_VERSION = "lambda:GetLayerVersion"
NOT_FOUND = "The resource you requested does not exist."
NO_POLICY = "No policy is associated with the given resource."
REVISION_MISMATCH = (
    "The Revision Id provided does not match the latest Revision Id. Call the "
    "GetLayerPolicy API to retrieve the latest Revision Id"
)


@dataclass(frozen=True)
class Page:
    """One page of a list call and whether more follow."""

    items: list[Any]
    more: bool


def caller_arn(account: Account) -> str:
    """The principal named in access-denied messages when no user is known."""
    return f"arn:aws:iam::{account.id}:root"


def _access_denied(principal: str, action: str, resource: str) -> AccessDenied:
    return AccessDenied(
        f"User: {principal} is not authorized to perform: lambda:{action} on resource: "
        f"{resource} because no resource-based policy allows the lambda:{action} action"
    )


def _check_number(number: int) -> None:
    if number < 1:
        raise InvalidParameterValue("Layer Version Cannot be less than 1")


def _shared_with(
    owner_id: str, name: str, number: int, account: Account, principal: str | None
) -> bool:
    """Whether the layer version's policy lets ``account``'s caller (``principal``: a user's
    or a role session's ARN; else the account's root) use it: ``lambda:GetLayerVersion``
    evaluated by IAM's rules. Accounts here belong to no AWS Organization, so a statement
    restricted to an organization (``aws:PrincipalOrgID``) grants nobody."""
    arn = arns.layer_version_arn(owner_id, name, number)
    caller = principal or caller_arn(account)
    kind: PrincipalType = "user"
    if caller.endswith(":root"):
        kind = "root"
    elif ":assumed-role/" in caller:
        kind = "assumed-role"
    context = RequestContext(Principal(caller, account.id, kind), GET_LAYER_VERSION, arn)
    policy = resources.cache.get(arn, load=True)
    return resource_policies.resource_allows(context, policy, owner_id)


def _find(owner_id: str, name: str, number: int, region: str | None) -> LayerVersion | None:
    if region not in (None, arns.region()):
        return None
    return (
        LayerVersion.objects.select_related("layer", "code")
        .filter(layer__account_id=owner_id, layer__name=name, number=number)
        .first()
    )


def _readable(
    account: Account,
    owner_id: str,
    name: str,
    number: int,
    region: str | None,
    principal: str | None,
) -> LayerVersion:
    _check_number(number)
    version = _find(owner_id, name, number, region)
    if owner_id != account.id:
        if version is None or not _shared_with(owner_id, name, number, account, principal):
            raise _access_denied(
                principal or caller_arn(account),
                "GetLayerVersion",
                arns.layer_version_arn(owner_id, name, number),
            )
    elif version is None:
        raise ResourceNotFound(NOT_FOUND)
    return version


def layer_version_get_for_account(
    account: Account, layer_name: str, number: int, *, principal: str | None = None
) -> LayerVersion:
    """GetLayerVersion: the caller's own layer version, or one another account shares.

    Another account's version that does not exist or is not shared is refused alike, so
    the answer never tells whether it exists.
    """
    ref = arns.parse_layer_name(layer_name)
    if ref is None:
        raise ResourceNotFound(NOT_FOUND)
    owner_id = ref.account_id or account.id
    return _readable(account, owner_id, ref.name, number, ref.region, principal)


def layer_version_get_by_arn(
    account: Account, arn: str, *, principal: str | None = None
) -> LayerVersion:
    """GetLayerVersionByArn, with the same access rules as GetLayerVersion."""
    ref = arns.parse_layer_version_arn(arn)
    if ref is None:
        raise ResourceNotFound(NOT_FOUND)
    return _readable(account, ref.account_id, ref.name, ref.version, ref.region, principal)


def _owned_name(
    account: Account, layer_name: str, action: str, resource: str | None, principal: str | None
) -> str:
    """The name of a layer in the caller's account; other accounts' layers are refused."""
    ref = arns.parse_layer_name(layer_name)
    if ref is None or ref.region not in (None, arns.region()):
        raise ResourceNotFound(NOT_FOUND)
    if ref.account_id not in (None, account.id):
        assert ref.account_id is not None
        raise _access_denied(
            principal or caller_arn(account),
            action,
            resource or arns.layer_arn(ref.account_id, ref.name),
        )
    return ref.name


def _owned_version_name(
    account: Account, layer_name: str, number: int, action: str, principal: str | None
) -> str:
    ref = arns.parse_layer_name(layer_name)
    owner_id = (ref.account_id if ref else None) or account.id
    resource = arns.layer_version_arn(owner_id, ref.name if ref else layer_name, number)
    return _owned_name(account, layer_name, action, resource, principal)


def _matches(version: LayerVersion, runtime: str | None, architecture: str | None) -> bool:
    return (runtime is None or runtime in version.compatible_runtimes) and (
        architecture is None or architecture in version.compatible_architectures
    )


def layers_list(
    account: Account,
    *,
    runtime: str | None,
    architecture: str | None,
    after: str | None,
    limit: int,
) -> Page:
    """ListLayers: each of the account's layers with its newest version matching the filters,
    by name, starting after the layer named ``after``. Items are ``LayerVersion``s."""
    versions = LayerVersion.objects.filter(layer__account=account).select_related("layer")
    if after is not None:
        versions = versions.filter(layer__name__gt=after)
    found: list[LayerVersion] = []
    current: str | None = None
    for version in versions.order_by("layer__name", "-number").iterator():
        if version.layer.name == current or not _matches(version, runtime, architecture):
            continue
        current = version.layer.name
        found.append(version)
        if len(found) > limit:
            break
    return Page(items=found[:limit], more=len(found) > limit)


def layer_versions_list(
    account: Account,
    layer_name: str,
    *,
    runtime: str | None,
    architecture: str | None,
    below: int | None,
    limit: int,
    principal: str | None = None,
) -> Page:
    """ListLayerVersions: the caller's layer's versions matching the filters, newest first,
    starting below version ``below``. A layer without versions lists none."""
    name = _owned_name(account, layer_name, "ListLayerVersions", None, principal)
    versions = LayerVersion.objects.filter(layer__account=account, layer__name=name)
    if below is not None:
        versions = versions.filter(number__lt=below)
    found: list[LayerVersion] = []
    for version in versions.select_related("layer").order_by("-number").iterator():
        if _matches(version, runtime, architecture):
            found.append(version)
            if len(found) > limit:
                break
    return Page(items=found[:limit], more=len(found) > limit)


def _read_content(content: dict[str, Any]) -> code.UploadedCode:
    has_s3 = any(content.get(k) for k in ("S3Bucket", "S3Key", "S3ObjectVersion"))
    if content.get("ZipFile") is None and not has_s3:
        raise InvalidParameterValue("Please provide a source for layer code.")
    return code.read_code_source(content)


def layer_version_publish(
    *, account: Account, layer_name: str, params: dict[str, Any], principal: str | None = None
) -> LayerVersion:
    """PublishLayerVersion: the next version of the layer, created on first publish.

    Version numbers are never reused, even after versions are deleted.
    """
    name = _owned_name(account, layer_name, "PublishLayerVersion", None, principal)
    upload = _read_content(dict(params.get("Content") or {}))
    digest = hashlib.sha256(upload.data).hexdigest()
    with codestore.released_on_failure([digest]), transaction.atomic():
        code.check_storage(account, len(upload.data))
        Layer.objects.get_or_create(account=account, name=name)
        layer = Layer.objects.select_for_update().get(account=account, name=name)
        blob = codestore.put(upload.data, upload.summary.unzipped_size)
        layer.last_version_number += 1
        layer.save(update_fields=["last_version_number"])
        return LayerVersion.objects.create(
            layer=layer,
            number=layer.last_version_number,
            description=params.get("Description") or "",
            created=timezone.now(),
            compatible_runtimes=list(params.get("CompatibleRuntimes") or []),
            compatible_architectures=list(params.get("CompatibleArchitectures") or []),
            license_info=params.get("LicenseInfo") or "",
            code=blob,
            code_sha256=codestore.sha256_b64(upload.data),
            code_size=len(upload.data),
        )


def layer_version_delete(
    *, account: Account, layer_name: str, number: int, principal: str | None = None
) -> None:
    """DeleteLayerVersion. Deleting a missing version succeeds, as on AWS.

    Functions that use the version keep working: their ``FunctionLayer`` rows keep the
    blob alive, and the blob is freed only with its last reference.
    """
    _check_number(number)
    name = _owned_version_name(account, layer_name, number, "DeleteLayerVersion", principal)
    with transaction.atomic():
        version = (
            LayerVersion.objects.select_for_update()
            .filter(layer__account=account, layer__name=name, number=number)
            .first()
        )
        if version is None:
            return
        digest = version.code_id
        version.delete()
    codestore.release([digest])


def _version_for_policy(account: Account, name: str, number: int) -> LayerVersion:
    version = (
        LayerVersion.objects.select_for_update()
        .select_related("layer")
        .filter(layer__account=account, layer__name=name, number=number)
        .first()
    )
    if version is None:
        arn = arns.layer_version_arn(account.id, name, number)
        raise ResourceNotFound(f"Layer version {arn} does not exist.")
    return version


def _statement(
    version_arn: str, sid: str, principal: str, organization_id: str | None
) -> dict[str, Any]:
    if principal != "*" and not principal.startswith("arn:"):
        principal = f"arn:aws:iam::{principal}:root"
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": "*" if principal == "*" else {"AWS": principal},
        "Action": GET_LAYER_VERSION,
        "Resource": version_arn,
    }
    if organization_id:
        statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": organization_id}}
    return statement


def _policy_json(statements: list[dict[str, Any]]) -> str:
    document = {"Version": "2012-10-17", "Id": "default", "Statement": statements}
    return json.dumps(document, separators=(",", ":"))


def layer_permission_add(
    *,
    account: Account,
    layer_name: str,
    number: int,
    params: dict[str, Any],
    principal: str | None = None,
) -> tuple[dict[str, Any], str]:
    """AddLayerVersionPermission: the new statement and the policy's new revision id."""
    name = _owned_version_name(account, layer_name, number, "AddLayerVersionPermission", principal)
    grantee = str(params["Principal"])
    organization_id = params.get("OrganizationId")
    if organization_id and grantee != "*":
        raise InvalidParameterValue(
            "OrganizationId can only be specified when the Principal is '*'."
        )
    sid = str(params["StatementId"])
    with transaction.atomic():
        version = _version_for_policy(account, name, number)
        existing = list(version.statements.all())
        if any(s.sid == sid for s in existing):
            raise ResourceConflict(
                f"The statement id ({sid}) provided already exists. Please provide a new "
                "statement id, or remove the existing statement."
            )
        if params.get("RevisionId") is not None and params["RevisionId"] != version.revision_id:
            raise PreconditionFailed(REVISION_MISMATCH)
        version_arn = arns.layer_version_arn(account.id, name, number)
        statement = _statement(version_arn, sid, grantee, organization_id)
        size = len(_policy_json([s.statement for s in existing] + [statement]))
        if size > POLICY_SIZE_LIMIT:
            raise PolicyLengthExceeded(
                f"The final policy size ({size}) is bigger than the limit ({POLICY_SIZE_LIMIT})."
            )
        LayerVersionStatement.objects.create(layer_version=version, sid=sid, statement=statement)
        version.revision_id = new_revision_id()
        version.save(update_fields=["revision_id"])
    return statement, version.revision_id


def layer_permission_remove(
    *,
    account: Account,
    layer_name: str,
    number: int,
    sid: str,
    revision_id: str | None,
    principal: str | None = None,
) -> None:
    """RemoveLayerVersionPermission."""
    name = _owned_version_name(
        account, layer_name, number, "RemoveLayerVersionPermission", principal
    )
    with transaction.atomic():
        version = _version_for_policy(account, name, number)
        if revision_id is not None and revision_id != version.revision_id:
            raise PreconditionFailed(REVISION_MISMATCH)
        deleted, _ = version.statements.filter(sid=sid).delete()
        if not deleted:
            raise ResourceNotFound(f"Statement {sid} is not found in resource policy.")
        version.revision_id = new_revision_id()
        version.save(update_fields=["revision_id"])


def layer_policy_get(
    account: Account, layer_name: str, number: int, *, principal: str | None = None
) -> tuple[str, str]:
    """GetLayerVersionPolicy: the policy document as JSON text, and its revision id."""
    name = _owned_version_name(account, layer_name, number, "GetLayerVersionPolicy", principal)
    with transaction.atomic():
        version = _version_for_policy(account, name, number)
        statements = [s.statement for s in version.statements.all()]
    if not statements:
        raise ResourceNotFound(NO_POLICY)
    return _policy_json(statements), version.revision_id


def resolve_for_function(
    account: Account, layer_arns: list[str], *, principal: str | None = None
) -> list[LayerVersion]:
    """The layer versions a function configuration names, in order, checked for access.

    The caller's own versions must exist; another account's must exist and be shared with
    the caller, and are refused alike otherwise.
    """
    if len(layer_arns) > MAX_LAYERS_PER_FUNCTION:
        raise InvalidParameterValue(f"Cannot reference more than {MAX_LAYERS_PER_FUNCTION} layers.")
    resolved: list[LayerVersion] = []
    seen: dict[tuple[str, str], str] = {}
    for arn in layer_arns:
        ref = arns.parse_layer_version_arn(arn)
        if ref is None:
            raise InvalidParameterValue(f"Layer version {arn} does not exist.")
        if ref.account_id == account.id:
            if ref.region not in (None, arns.region()):
                raise InvalidParameterValue(
                    "Layers are not in the same region as the function. Layers are expected "
                    f"to be in region {arns.region()}."
                )
            version = _find(ref.account_id, ref.name, ref.version, ref.region)
            if version is None:
                raise InvalidParameterValue(f"Layer version {arn} does not exist.")
        else:
            version = _find(ref.account_id, ref.name, ref.version, ref.region)
            if version is None or not _shared_with(
                ref.account_id, ref.name, ref.version, account, principal
            ):
                raise _access_denied(principal or caller_arn(account), "GetLayerVersion", arn)
        key = (ref.account_id, ref.name)
        if key in seen:
            raise InvalidParameterValue(
                "Two different versions of the same layer are not allowed to be referenced "
                f"in the same function. {seen[key]} and {arn} are versions of the same layer."
            )
        seen[key] = arn
        resolved.append(version)
    return resolved
