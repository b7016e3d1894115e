"""Writes for functions and their versions: create, update code/configuration, publish,
delete. Each public function runs in one transaction; a failing call changes nothing."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from awsapi.errors import (
    InvalidParameterValue,
    PreconditionFailed,
    ResourceConflict,
)
from awsapi.prepared import PreparedQuery
from awsapi.service_models import service_model
from functions import arns, codestore, images, logging_config, zips
from functions.models import (
    Function,
    FunctionLayer,
    FunctionVersion,
    LayerVersion,
    new_revision_id,
)
from functions.selectors import Resolved, function_not_found, version_layers
from functions.services import code
from functions.services import layers as layer_services
from iam import sts
from iam.models import Account

DEPRECATED_RUNTIMES = frozenset(
    {
        "nodejs",
        "nodejs4.3",
        "nodejs4.3-edge",
        "nodejs6.10",
        "nodejs8.10",
        "nodejs10.x",
        "nodejs12.x",
        "python2.7",
        "python3.6",
        "python3.7",
        "dotnetcore1.0",
        "dotnetcore2.0",
        "dotnetcore2.1",
        "ruby2.5",
        "go1.x",
        "custom",
    }
)
RECOMMENDED_RUNTIME = {
    "python": "python3.13",
    "nodejs": "nodejs22.x",
    "ruby": "ruby3.3",
    "dotnetcore": "dotnet8",
    "go": "provided.al2023",
    "custom": "provided.al2023",
}
ENVIRONMENT_LIMIT = 4096
RESERVED_ENVIRONMENT_KEYS = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)
REVISION_MISMATCH = (
    "The Revision Id provided does not match the latest Revision Id. Call the "
    "GetFunction/GetAlias API to retrieve the latest Revision Id"
)
# Fields copied from $LATEST into a published version, and hashed to detect "no change".
_FROZEN_FIELDS = (
    "runtime",
    "handler",
    "role",
    "timeout",
    "memory_size",
    "ephemeral_storage",
    "environment",
    "architectures",
    "tracing_mode",
    "dead_letter_target_arn",
    "kms_key_arn",
    "vpc_config",
    "logging_config",
    "snap_start",
    "code_sha256",
    "code_size",
    "package_type",
    "image_uri",
    "resolved_image_uri",
    "image_id",
    "image_config",
    "image_settings",
    "description",
)
IMAGE_REFUSES = (
    "Please don't provide Handler or Runtime or Layer when the intended function PackageType "
    "is Image."
)


def check_revision(expected: str | None, actual: str) -> None:
    if expected is not None and expected != actual:
        raise PreconditionFailed(REVISION_MISMATCH)


def runtimes_accepted() -> list[str]:
    """The runtimes a function may be created with or updated to, in the model's order."""
    enum = service_model("lambda").shape_for("Runtime").enum
    return [runtime for runtime in enum if runtime not in DEPRECATED_RUNTIMES]


def check_runtime(runtime: str | None) -> None:
    """AWS checks Runtime in the service, not with the other members' validation: an
    unknown one is an InvalidParameterValueException naming the accepted values."""
    if runtime is None:
        return
    if runtime not in DEPRECATED_RUNTIMES and runtime not in runtimes_accepted():
        error = InvalidParameterValue(
            f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy "
            f"enum value set: [{', '.join(runtimes_accepted())}] or be a valid ARN"
        )
        error.member = "runtime"
        raise error
    if runtime in DEPRECATED_RUNTIMES:
        family = "".join(ch for ch in runtime if ch.isalpha()).removesuffix("x")
        recommended = RECOMMENDED_RUNTIME.get(family, "python3.13")
        raise InvalidParameterValue(
            f"The runtime parameter of {runtime} is no longer supported for creating or "
            f"updating AWS Lambda functions. We recommend you use the new runtime "
            f"({recommended}) while creating or updating functions."
        )


def check_environment(environment: dict[str, Any] | None) -> dict[str, str]:
    variables = dict((environment or {}).get("Variables") or {})
    reserved = sorted(k for k in variables if k in RESERVED_ENVIRONMENT_KEYS)
    if reserved:
        raise InvalidParameterValue(
            "Lambda was unable to configure your environment variables because the "
            "environment variables you have provided contains reserved keys that are "
            "currently not supported for modification. Reserved keys used in this request: "
            + ", ".join(reserved)
        )
    measured = json.dumps(variables, separators=(",", ":"), ensure_ascii=False)
    if len(measured.encode()) > ENVIRONMENT_LIMIT:
        raise InvalidParameterValue(
            "Lambda was unable to configure your environment variables because the "
            "environment variables you have provided exceeded the 4KB limit. String "
            f"measured: {measured}"
        )
    return {str(k): str(v) for k, v in variables.items()}


# The longest SQS/SNS ARN (80-character queue or 256-character topic names) fits with room.
DEAD_LETTER_ARN_LIMIT = 2048


def check_dead_letter_target(arn: str) -> str:
    """A dead-letter queue is an SQS queue or an SNS topic ('' removes it)."""
    parts = arn.split(":")
    wrong_service = len(parts) < 6 or parts[0] != "arn" or parts[2] not in ("sqs", "sns")
    if arn and (wrong_service or len(arn) > DEAD_LETTER_ARN_LIMIT):
        raise InvalidParameterValue(
            f"The provided target arn {arn} is invalid. The dead-letter target must be an "
            "Amazon SQS queue or an Amazon SNS topic."
        )
    return arn


ROLE_NOT_ASSUMABLE = "The role defined for the function cannot be assumed by Lambda."


class RoleNotAssumable(InvalidParameterValue):
    """AWS's refusal of a ``Role`` Lambda cannot assume (strict execution roles only)."""


def check_execution_role(account_id: str, function_name: str, role_arn: str | None) -> None:
    """With FUNCTORY_STRICT_EXECUTION_ROLES, a role Lambda cannot assume (not the account's,
    or not trusting lambda.amazonaws.com) is refused as AWS refuses it. Without it, such a
    function is kept and runs without credentials (the console says why)."""
    if role_arn is None or not settings.FUNCTORY_STRICT_EXECUTION_ROLES:
        return
    function_arn = arns.function_arn(account_id, function_name)
    if not sts.execution_role_check(account_id, role_arn, function_arn).usable:
        raise RoleNotAssumable(ROLE_NOT_ASSUMABLE)


def _apply(version: FunctionVersion, params: dict[str, Any]) -> None:
    """Copy configuration members present in ``params`` onto ``version``."""
    simple = {
        "Runtime": "runtime",
        "Handler": "handler",
        "Role": "role",
        "Description": "description",
        "Timeout": "timeout",
        "MemorySize": "memory_size",
        "KMSKeyArn": "kms_key_arn",
    }
    for member, attr in simple.items():
        if member in params and params[member] is not None:
            setattr(version, attr, params[member])
    if "Environment" in params:
        version.environment = check_environment(params["Environment"])
    if params.get("EphemeralStorage"):
        version.ephemeral_storage = params["EphemeralStorage"]["Size"]
    if params.get("Architectures"):
        version.architectures = list(params["Architectures"])
    if params.get("TracingConfig"):
        version.tracing_mode = params["TracingConfig"].get("Mode", "PassThrough")
    if "DeadLetterConfig" in params:
        version.dead_letter_target_arn = check_dead_letter_target(
            (params["DeadLetterConfig"] or {}).get("TargetArn") or ""
        )
    if "VpcConfig" in params:
        vpc = params["VpcConfig"] or {}
        version.vpc_config = (
            {
                "SubnetIds": list(vpc.get("SubnetIds", [])),
                "SecurityGroupIds": list(vpc.get("SecurityGroupIds", [])),
                "VpcId": "",
            }
            if vpc.get("SubnetIds") or vpc.get("SecurityGroupIds")
            else {}
        )
    if params.get("LoggingConfig"):
        version.logging_config = logging_config.merged(
            version.logging_config or {}, params["LoggingConfig"]
        )
    if "ImageConfig" in params:
        if version.package_type != "Image":
            raise InvalidParameterValue(
                "ImageConfig is not supported for functions with PackageType Zip."
            )
        version.image_config = _image_config(params["ImageConfig"])
    check_runtime(params.get("Runtime"))
    if params.get("SnapStart") is not None:
        version.snap_start = params["SnapStart"].get("ApplyOn") or "None"
    if version.snap_start == "PublishedVersions":
        check_snap_start(version)
    if params.get("FileSystemConfigs"):
        raise InvalidParameterValue("File system configurations are not supported by this server.")


# The runtimes AWS offers SnapStart for (of those the model knows). Functory forks the
# Python ones from a template (invocations/executor/templates.py); Java and .NET versions
# are accepted, as on AWS, and start as any other.
SNAP_START_RUNTIMES = (
    "java11",
    "java17",
    "java21",
    "java25",
    "python3.12",
    "python3.13",
    "python3.14",
    "dotnet8",
)


def check_snap_start(version: FunctionVersion) -> None:
    if version.package_type == "Image":
        # Not AWS's text (not recorded): AWS documents no SnapStart for images.
        raise InvalidParameterValue("SnapStart is not supported for container image functions.")
    if version.runtime not in SNAP_START_RUNTIMES:
        raise InvalidParameterValue(
            f"{version.runtime} is not supported for SnapStart enabled functions."
        )


def _image_config(value: dict[str, Any] | None) -> dict[str, Any]:
    """The ``ImageConfig`` members set (an empty object clears them all, as on AWS)."""
    config: dict[str, Any] = {}
    for member in ("EntryPoint", "Command"):
        if (value or {}).get(member) is not None:
            config[member] = [str(part) for part in value[member]]  # type: ignore[index]
    if (value or {}).get("WorkingDirectory"):
        config["WorkingDirectory"] = str(value["WorkingDirectory"])  # type: ignore[index]
    return config


def _check_image_params(params: dict[str, Any]) -> None:
    """Runtime, Handler and Layers belong to the image, not to the function."""
    if params.get("Runtime") or params.get("Handler") or params.get("Layers"):
        raise InvalidParameterValue(IMAGE_REFUSES)


def _set_image(version: FunctionVersion, image: images.ResolvedImage) -> None:
    version.image_uri = image.image_uri
    version.resolved_image_uri = image.resolved_uri
    version.image_id = image.image_id
    version.image_settings = dict(image.settings)
    # AWS reports the image's digest as the code's hash; an image stores no zip here.
    version.code_sha256 = image.digest_hex
    version.code_size = 0


def _create_image(*, account: Account, name: str, params: dict[str, Any]) -> FunctionVersion:
    _check_image_params(params)
    code_params = params.get("Code") or {}
    if code_params.get("ZipFile") is not None or code_params.get("S3Bucket"):
        raise InvalidParameterValue(
            "Please don't provide ZipFile or S3Bucket/S3Key when the intended function "
            "PackageType is Image."
        )
    if not code_params.get("ImageUri"):
        raise InvalidParameterValue("Please provide ImageUri when PackageType is Image.")
    version = FunctionVersion(number=0, package_type="Image", runtime="", handler="")
    _apply(version, params)
    check_execution_role(account.id, name, params.get("Role"))
    _set_image(version, images.resolve(str(code_params["ImageUri"]), account.id))
    try:
        with transaction.atomic():
            function = Function.objects.create(
                account=account, name=name, tags=dict(params.get("Tags") or {})
            )
            version.function = function
            version.last_modified = timezone.now()
            version.config_digest = ""
            version.save()
            version.config_digest = _digest(version, [])
            version.save(update_fields=["config_digest"])
            if params.get("Publish"):
                return _publish(function, version, description=None)
            return version
    except IntegrityError as exc:
        raise ResourceConflict(f"Function already exist: {name}") from exc


def _digest(version: FunctionVersion, layer_arns: list[str]) -> str:
    frozen = {name: getattr(version, name) for name in _FROZEN_FIELDS if name != "description"}
    if version.snap_start == "None":  # as digests were before SnapStart was kept
        del frozen["snap_start"]
    frozen["layers"] = layer_arns
    return hashlib.sha256(json.dumps(frozen, sort_keys=True, default=str).encode()).hexdigest()


def _check_combined_size(unzipped: int, layer_versions: list[LayerVersion]) -> None:
    total = unzipped + sum(lv.code.unzipped_size for lv in layer_versions)
    if total > zips.UNZIPPED_LIMIT:
        raise InvalidParameterValue(
            "Function code combined with layers exceeds the maximum allowed size of "
            f"{zips.UNZIPPED_LIMIT} bytes. The actual size is {total} bytes."
        )


def _check_combined_size_of(unzipped: int, version: FunctionVersion) -> None:
    total = unzipped + sum(fl.code.unzipped_size for fl in version.layers.select_related("code"))
    if total > zips.UNZIPPED_LIMIT:
        raise InvalidParameterValue(
            "Function code combined with layers exceeds the maximum allowed size of "
            f"{zips.UNZIPPED_LIMIT} bytes. The actual size is {total} bytes."
        )


def _set_layers(
    version: FunctionVersion, layer_versions: list[LayerVersion], arns_: list[str]
) -> None:
    version.layers.all().delete()
    FunctionLayer.objects.bulk_create(
        FunctionLayer(
            function_version=version, position=i, arn=arn, code=lv.code, code_size=lv.code_size
        )
        for i, (lv, arn) in enumerate(zip(layer_versions, arns_, strict=True))
    )


def _layer_arns(version: FunctionVersion) -> list[str]:
    return [layer.arn for layer in version_layers(version)]


def _stamp(version: FunctionVersion) -> None:
    version.revision_id = new_revision_id()
    version.last_modified = timezone.now()
    version.config_digest = _digest(version, _layer_arns(version)) if version.pk else ""


def function_create(*, account: Account, name: str, params: dict[str, Any]) -> FunctionVersion:
    """CreateFunction. Returns $LATEST, or the new version 1 when ``Publish`` is set."""
    if params.get("PackageType") == "Image":
        return _create_image(account=account, name=name, params=params)
    if (params.get("Code") or {}).get("ImageUri"):
        raise InvalidParameterValue(
            "Please don't provide ImageUri when the intended function PackageType is Zip."
        )
    if "ImageConfig" in params:
        raise InvalidParameterValue(
            "ImageConfig is not supported for functions with PackageType Zip."
        )
    if not params.get("Runtime") or not params.get("Handler"):
        raise InvalidParameterValue(
            "Runtime and Handler are mandatory parameters for functions created with "
            "deployment packages."
        )
    code_params = params.get("Code") or {}
    upload = code.read_code_source(code_params)
    layer_arns = list(params.get("Layers") or [])
    layer_versions = layer_services.resolve_for_function(account, layer_arns)
    _check_combined_size(upload.summary.unzipped_size, layer_versions)
    version = FunctionVersion(
        number=0, code_sha256=codestore.sha256_b64(upload.data), code_size=len(upload.data)
    )
    _apply(version, params)
    check_execution_role(account.id, name, params.get("Role"))
    digest = hashlib.sha256(upload.data).hexdigest()
    with codestore.released_on_failure([digest]):
        try:
            with transaction.atomic():
                code.check_storage(account, len(upload.data))
                blob = codestore.put(upload.data, upload.summary.unzipped_size)
                function = Function.objects.create(
                    account=account, name=name, tags=dict(params.get("Tags") or {})
                )
                version.function = function
                version.code = blob
                version.last_modified = timezone.now()
                version.config_digest = ""
                version.save()
                _set_layers(version, layer_versions, layer_arns)
                version.config_digest = _digest(version, layer_arns)
                version.save(update_fields=["config_digest"])
                if params.get("Publish"):
                    return _publish(function, version, description=None)
                return version
        except IntegrityError as exc:
            raise ResourceConflict(f"Function already exist: {name}") from exc


def function_update_code(*, resolved: Resolved, params: dict[str, Any]) -> FunctionVersion:
    """UpdateFunctionCode (with DryRun, Publish and RevisionId)."""
    if resolved.qualifier not in (None, FunctionVersion.LATEST):
        raise InvalidParameterValue("Only the $LATEST version of a function can be updated.")
    package_type = resolved.function.versions.get(number=0).package_type
    if package_type == "Image":
        return _update_image(resolved=resolved, params=params)
    if params.get("ImageUri"):
        raise InvalidParameterValue(
            "Please don't provide ImageUri when updating a function with packageType Zip."
        )
    upload = code.read_code_source(params)
    digest = hashlib.sha256(upload.data).hexdigest()
    latest = resolved.function.versions.get(number=0)
    check_revision(params.get("RevisionId"), latest.revision_id)
    _check_combined_size_of(upload.summary.unzipped_size, latest)
    if params.get("DryRun"):
        # Validated and described, never stored.
        latest.code_sha256 = codestore.sha256_b64(upload.data)
        latest.code_size = len(upload.data)
        return latest
    old_digest = latest.code_id
    with codestore.released_on_failure([digest]), transaction.atomic():
        function = Function.objects.select_for_update().get(pk=resolved.function.pk)
        latest = function.versions.select_for_update().get(number=0)
        check_revision(params.get("RevisionId"), latest.revision_id)
        code.check_storage(function.account, len(upload.data))
        latest.code = codestore.put(upload.data, upload.summary.unzipped_size)
        latest.code_sha256 = codestore.sha256_b64(upload.data)
        latest.code_size = len(upload.data)
        if params.get("Architectures"):
            latest.architectures = list(params["Architectures"])
        _stamp(latest)
        latest.save()
        result = _publish(function, latest, description=None) if params.get("Publish") else latest
    if old_digest is not None and old_digest != digest:
        codestore.release([old_digest])
    return result


def _update_image(*, resolved: Resolved, params: dict[str, Any]) -> FunctionVersion:
    if not params.get("ImageUri") or params.get("ZipFile") is not None or params.get("S3Bucket"):
        raise InvalidParameterValue(
            "Please provide ImageUri when updating a function with packageType Image."
        )
    latest = resolved.function.versions.get(number=0)
    check_revision(params.get("RevisionId"), latest.revision_id)
    image = images.resolve(str(params["ImageUri"]), resolved.function.account_id)
    if params.get("DryRun"):
        _set_image(latest, image)
        return latest
    with transaction.atomic():
        function = Function.objects.select_for_update().get(pk=resolved.function.pk)
        latest = function.versions.select_for_update().get(number=0)
        check_revision(params.get("RevisionId"), latest.revision_id)
        _set_image(latest, image)
        if params.get("Architectures"):
            latest.architectures = list(params["Architectures"])
        _stamp(latest)
        latest.save()
        return _publish(function, latest, description=None) if params.get("Publish") else latest


# The function's row, then its $LATEST's, locked in that order as every writer of a
# function's versions locks them; compiled once (UpdateFunctionConfiguration is frequent).
_LOCKED_FUNCTION = PreparedQuery(
    lambda pk: Function.objects.select_for_update().filter(pk=pk), kinds=(int,)
)
_LOCKED_LATEST = PreparedQuery(
    lambda function_id: FunctionVersion.objects.select_for_update().filter(
        function_id=function_id, number=0
    ),
    kinds=(int,),
)


def _locked_latest(function_id: int) -> tuple[Function, FunctionVersion]:
    """The function and its $LATEST, locked for this transaction (a function deleted
    meanwhile is not found)."""
    function = _LOCKED_FUNCTION.first(function_id)
    latest = _LOCKED_LATEST.first(function_id) if function is not None else None
    if function is None or latest is None:
        raise Function.DoesNotExist
    latest.function = function
    return function, latest


def function_update_configuration(*, resolved: Resolved, params: dict[str, Any]) -> FunctionVersion:
    """UpdateFunctionConfiguration (RevisionId honoured)."""
    if resolved.qualifier not in (None, FunctionVersion.LATEST):
        raise InvalidParameterValue("Only the $LATEST version of a function can be updated.")
    dropped: list[str] = []
    with transaction.atomic():
        function, latest = _locked_latest(resolved.function.pk)
        check_revision(params.get("RevisionId"), latest.revision_id)
        before = _stored_values(latest)
        if latest.package_type == "Image":
            _check_image_params(params)
        _apply(latest, params)
        check_execution_role(function.account_id, function.name, params.get("Role"))
        if "Layers" in params:
            layer_arns = list(params.get("Layers") or [])
            layer_versions = layer_services.resolve_for_function(function.account, layer_arns)
            _check_combined_size(latest.code.unzipped_size if latest.code else 0, layer_versions)
            # Replaced layers may have held the last reference to a deleted layer's blob.
            dropped = list(latest.layers.values_list("code_id", flat=True))
            _set_layers(latest, layer_versions, layer_arns)
        _stamp(latest)
        latest.save(update_fields=_changed_since(latest, before))
    codestore.release(dropped)
    return latest


def _stored_values(version: FunctionVersion) -> dict[str, Any]:
    """A copy of the version's columns (JSON values deep-copied: an edit in place shows)."""
    return {
        field.attname: copy.deepcopy(getattr(version, field.attname))
        for field in FunctionVersion._meta.concrete_fields
        if not field.primary_key
    }


def _changed_since(version: FunctionVersion, before: dict[str, Any]) -> list[str]:
    """The columns whose values differ from ``before``: an UPDATE of those alone costs
    less to build than one of every column (the stamp always changes a few)."""
    return [name for name, value in before.items() if getattr(version, name) != value]


def _publish(
    function: Function, latest: FunctionVersion, description: str | None
) -> FunctionVersion:
    """Freeze $LATEST as the next version, or return the newest if nothing changed."""
    newest = function.versions.exclude(number=0).order_by("-number").first()
    if newest is not None and newest.config_digest == latest.config_digest:
        return newest
    function.last_version_number += 1
    function.save(update_fields=["last_version_number"])
    published = FunctionVersion(
        function=function,
        number=function.last_version_number,
        code=latest.code,
        config_digest=latest.config_digest,
        last_modified=timezone.now(),
    )
    for name in _FROZEN_FIELDS:
        setattr(published, name, getattr(latest, name))
    if description is not None:
        published.description = description
    published.save()
    FunctionLayer.objects.bulk_create(
        FunctionLayer(
            function_version=published,
            position=layer.position,
            arn=layer.arn,
            code=layer.code,
            code_size=layer.code_size,
        )
        for layer in latest.layers.all()
    )
    return published


def version_publish(*, resolved: Resolved, params: dict[str, Any]) -> FunctionVersion:
    """PublishVersion with the CodeSha256 and RevisionId checks."""
    with transaction.atomic():
        function = Function.objects.select_for_update().get(pk=resolved.function.pk)
        latest = function.versions.select_for_update().get(number=0)
        expected_sha = params.get("CodeSha256")
        if expected_sha is not None and expected_sha != latest.code_sha256:
            raise InvalidParameterValue(
                f"CodeSHA256 ({expected_sha}) is different from current CodeSHA256 in $LATEST "
                f"({latest.code_sha256}). Please try again with the CodeSHA256 in $LATEST."
            )
        check_revision(params.get("RevisionId"), latest.revision_id)
        return _publish(function, latest, params.get("Description"))


def function_delete(*, resolved: Resolved) -> None:
    """DeleteFunction: the whole function, or one published version by Qualifier."""
    function = resolved.function
    qualifier = resolved.qualifier
    with transaction.atomic():
        function = Function.objects.select_for_update().get(pk=function.pk)
        if qualifier is None:
            digests = _digests(FunctionVersion.objects.filter(function=function))
            function.delete()
        else:
            if qualifier == FunctionVersion.LATEST:
                raise InvalidParameterValue(
                    "$LATEST version cannot be deleted without deleting the function."
                )
            if not qualifier.isdigit():
                raise InvalidParameterValue(
                    "Deletion of aliases is not supported: use DeleteAlias to delete an alias."
                )
            version = function.versions.filter(number=int(qualifier)).first()
            if version is None:
                raise function_not_found(function.account_id, function.name, qualifier)
            aliases = sorted(
                alias.name
                for alias in function.aliases.all()
                if alias.function_version == qualifier or qualifier in alias.routing_weights
            )
            if aliases:
                raise ResourceConflict(
                    "Unable to delete version because the following aliases reference it: "
                    f"[{', '.join(aliases)}]"
                )
            digests = _digests(FunctionVersion.objects.filter(pk=version.pk))
            version.delete()
            function.statements.filter(qualifier=qualifier).delete()
            function.event_invoke_configs.filter(qualifier=qualifier).delete()
            function.provisioned_configs.filter(qualifier=qualifier).delete()
    codestore.release(digests)


def _digests(versions: Any) -> list[str]:
    codes = [c for c in versions.values_list("code_id", flat=True) if c is not None]
    layers = list(
        FunctionLayer.objects.filter(function_version__in=versions).values_list(
            "code_id", flat=True
        )
    )
    return codes + layers
