"""IAM policies: inline policies of users, groups and roles; customer managed policies and
their versions; AWS managed policies (read-only, by ARN); attachments; and
SimulatePrincipalPolicy, evaluated by ``iam.policy``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, overload

from iam import entities
from iam.api.identities import Params, Result
from iam.authentication import ApiRequest
from iam.models import Group, ManagedPolicy, Role, User
from iam.policy import Policy, PolicyKind, Principal, RequestContext, evaluate
from iam.policy.managed import POLICIES as AWS_POLICIES
from iam.policy.managed import ManagedPolicy as AwsPolicy

Identity = User | Group | Role
# (request, name) -> the user, group or role the request names.
Finder = Callable[[ApiRequest, str], Identity]
_FINDERS: dict[str, tuple[str, Finder]] = {
    "User": ("UserName", lambda request, name: entities.user_get(request.account, name)),
    "Group": ("GroupName", lambda request, name: entities.group_get(request.account, name)),
    "Role": ("RoleName", lambda request, name: entities.role_get(request.account, name)),
}


# ---- inline policies --------------------------------------------------------------------


def _inline_views(kind: str) -> dict[str, Callable[[ApiRequest, Params], Result | None]]:
    member, find = _FINDERS[kind]

    def put(request: ApiRequest, params: Params) -> None:
        identity = find(request, params[member])
        entities.inline_put(identity, params["PolicyName"], params["PolicyDocument"])

    def get(request: ApiRequest, params: Params) -> Result:
        identity = find(request, params[member])
        policy = entities.inline_get(identity, params["PolicyName"])
        return {
            member: params[member],
            "PolicyName": policy.name,
            "PolicyDocument": policy.document,
        }

    def list_names(request: ApiRequest, params: Params) -> Result:
        identity = find(request, params[member])
        found = entities.page(entities.inline_names(identity), params)
        result = found.fields("PolicyNames")
        result["PolicyNames"] = [policy.name for policy in found.items]
        return result

    def delete(request: ApiRequest, params: Params) -> None:
        identity = find(request, params[member])
        entities.inline_get(identity, params["PolicyName"]).delete()

    def attach(request: ApiRequest, params: Params) -> None:
        entities.attach(find(request, params[member]), params["PolicyArn"])

    def detach(request: ApiRequest, params: Params) -> None:
        entities.detach(find(request, params[member]), params["PolicyArn"])

    def list_attached(request: ApiRequest, params: Params) -> Result:
        identity = find(request, params[member])
        found = entities.page(entities.attached(identity, params.get("PathPrefix", "/")), params)
        return found.fields("AttachedPolicies")

    return {
        f"Put{kind}Policy": put,
        f"Get{kind}Policy": get,
        f"List{kind}Policies": list_names,
        f"Delete{kind}Policy": delete,
        f"Attach{kind}Policy": attach,
        f"Detach{kind}Policy": detach,
        f"ListAttached{kind}Policies": list_attached,
    }


# ---- managed policies -------------------------------------------------------------------


def policy_shape(
    account_id: str,
    policy: ManagedPolicy | AwsPolicy,
    full: bool,
    counts: dict[str, int] | None = None,
) -> Result:
    """``counts``: the account's attachment counts when many policies are shaped at once."""
    if isinstance(policy, AwsPolicy):
        shape: Result = {
            "PolicyName": policy.name,
            "PolicyId": entities.aws_policy_id(policy.arn),
            "Arn": policy.arn,
            "Path": policy.path,
            "DefaultVersionId": "v1",
            "CreateDate": entities.AWS_POLICY_CREATED,
            "UpdateDate": entities.AWS_POLICY_CREATED,
        }
        description = policy.description
    else:
        shape = {
            "PolicyName": policy.name,
            "PolicyId": policy.policy_id,
            "Arn": policy.arn,
            "Path": policy.path,
            "DefaultVersionId": policy.default_version_id,
            "CreateDate": policy.created,
            "UpdateDate": policy.updated,
        }
        description = policy.description
        if full and policy.tags:
            shape["Tags"] = entities.tag_list(policy.tags)
    shape["AttachmentCount"] = (
        entities.attachment_count(account_id, policy.arn)
        if counts is None
        else counts.get(policy.arn, 0)
    )
    shape["PermissionsBoundaryUsageCount"] = 0
    shape["IsAttachable"] = True
    if full and description:
        shape["Description"] = description
    return shape


def _policy(request: ApiRequest, arn: str) -> ManagedPolicy | AwsPolicy:
    if entities.is_aws_policy(arn):
        return entities.aws_policy_get(arn)
    return entities.policy_get(request.account, arn)


def _local(request: ApiRequest, arn: str) -> ManagedPolicy:
    if entities.is_aws_policy(arn):
        # AWS's own policies cannot be changed by an account.
        entities.aws_policy_get(arn)
        raise entities.InvalidInput(f"ARN {arn} is not valid for this operation.")
    return entities.policy_get(request.account, arn)


def create_policy(request: ApiRequest, params: Params) -> Result:
    policy = entities.policy_create(
        request.account,
        params["PolicyName"],
        params["PolicyDocument"],
        path=params.get("Path", "/"),
        description=params.get("Description", ""),
        tags=params.get("Tags"),
    )
    return {"Policy": policy_shape(request.account.id, policy, full=False)}


def get_policy(request: ApiRequest, params: Params) -> Result:
    return {"Policy": policy_shape(request.account.id, _policy(request, params["PolicyArn"]), True)}


def list_policies(request: ApiRequest, params: Params) -> Result:
    scope = params.get("Scope", "All")
    prefix = params.get("PathPrefix", "/")
    only_attached = params.get("OnlyAttached", False)
    candidates: list[ManagedPolicy | AwsPolicy] = []
    if scope in ("All", "AWS"):
        candidates += [p for p in AWS_POLICIES if p.path.startswith(prefix)]
    if scope in ("All", "Local"):
        candidates += list(
            request.account.policies.filter(path__startswith=prefix).order_by("name")
        )
    counts = entities.attachment_counts(request.account.id)
    if only_attached:
        candidates = [p for p in candidates if counts.get(p.arn, 0) > 0]
    found = entities.page(candidates, params)
    result = found.fields("Policies")
    result["Policies"] = [
        policy_shape(request.account.id, p, full=False, counts=counts) for p in found.items
    ]
    return result


def delete_policy(request: ApiRequest, params: Params) -> None:
    entities.policy_delete(_local(request, params["PolicyArn"]))


def _version_shape(version_id: str, document: str, default: str, created: Any) -> Result:
    return {
        "Document": document,
        "VersionId": version_id,
        "IsDefaultVersion": version_id == default,
        "CreateDate": created,
    }


def create_policy_version(request: ApiRequest, params: Params) -> Result:
    policy = _local(request, params["PolicyArn"])
    version = entities.version_create(
        policy, params["PolicyDocument"], params.get("SetAsDefault", False)
    )
    shape = _version_shape(
        version.version_id, version.document, policy.default_version_id, version.created
    )
    del shape["Document"]  # IAM does not echo the document back
    return {"PolicyVersion": shape}


def get_policy_version(request: ApiRequest, params: Params) -> Result:
    policy = _policy(request, params["PolicyArn"])
    version_id = params["VersionId"]
    if isinstance(policy, AwsPolicy):
        if version_id != "v1":
            raise entities.NoSuchEntity(f"Policy {policy.arn} version {version_id} does not exist.")
        shape = _version_shape("v1", policy.document, "v1", entities.AWS_POLICY_CREATED)
    else:
        version = entities.version_get(policy, version_id)
        shape = _version_shape(
            version.version_id, version.document, policy.default_version_id, version.created
        )
    return {"PolicyVersion": shape}


def list_policy_versions(request: ApiRequest, params: Params) -> Result:
    policy = _policy(request, params["PolicyArn"])
    if isinstance(policy, AwsPolicy):
        versions = [_version_shape("v1", "", "v1", entities.AWS_POLICY_CREATED)]
    else:
        versions = [
            _version_shape(v.version_id, "", policy.default_version_id, v.created)
            for v in policy.versions.order_by("-created", "-id")
        ]
    for version in versions:
        del version["Document"]  # listed without their documents, as IAM does
    return entities.page(versions, params).fields("Versions")


def delete_policy_version(request: ApiRequest, params: Params) -> None:
    entities.version_delete(_local(request, params["PolicyArn"]), params["VersionId"])


def set_default_policy_version(request: ApiRequest, params: Params) -> None:
    entities.version_set_default(_local(request, params["PolicyArn"]), params["VersionId"])


def list_entities_for_policy(request: ApiRequest, params: Params) -> Result:
    found = entities.entities_for_policy(request.account, params["PolicyArn"])
    wanted = params.get("EntityFilter")
    keys = {"User": "PolicyUsers", "Group": "PolicyGroups", "Role": "PolicyRoles"}
    result: Result = {"IsTruncated": False}
    for kind, key in keys.items():
        result[key] = found[key] if wanted in (None, kind) else []
    return result


# ---- SimulatePrincipalPolicy ------------------------------------------------------------


def _principal(identity: Identity) -> Principal:
    account = identity.account_id
    if isinstance(identity, User):
        return Principal(
            identity.arn, account, "user", identity.username, identity.iam_id, identity.tags
        )
    if isinstance(identity, Role):
        return Principal(identity.arn, account, "role", identity.name, identity.role_id)
    return Principal(identity.arn, account, "user", identity.name, identity.group_id)


def _context_entries(entries: list[dict[str, Any]]) -> dict[str, tuple[str, ...]]:
    return {
        entry["ContextKeyName"]: tuple(entry.get("ContextKeyValues") or ())
        for entry in entries
        if entry.get("ContextKeyName")
    }


class _Pairs(Sequence[tuple[str, str]]):
    """Every (action, resource) pair, in IAM's order, without building them all."""

    def __init__(self, actions: list[str], resources: list[str]) -> None:
        self.actions = actions
        self.resources = resources

    def __len__(self) -> int:
        return len(self.actions) * len(self.resources)

    @overload
    def __getitem__(self, index: int) -> tuple[str, str]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[str, str]]: ...

    def __getitem__(self, index: int | slice) -> tuple[str, str] | list[tuple[str, str]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not 0 <= index < len(self):
            raise IndexError(index)
        action, resource = divmod(index, len(self.resources))
        return self.actions[action], self.resources[resource]


def simulate_principal_policy(request: ApiRequest, params: Params) -> Result:
    identity = entities.identity_by_arn(request.account, params["PolicySourceArn"])
    policies: list[Policy] = entities.identity_policies(identity)
    for index, text in enumerate(params.get("PolicyInputList") or (), start=1):
        policies.append(
            entities.checked_policy(
                text, PolicyKind.MANAGED, source=f"IAM Policy|PolicyInputList.{index}"
            )
        )
    principal = _principal(identity)
    conditions = _context_entries(params.get("ContextEntries") or [])
    pairs = _Pairs(params["ActionNames"], params.get("ResourceArns") or ["*"])
    # Only the page asked for is made and evaluated: the work per call is bounded by MaxItems.
    requested = entities.page(pairs, params)
    results = []
    for action, resource in requested.items:
        context = RequestContext(principal, action, resource, conditions)
        decision = evaluate(context, policies)
        matched = []
        if decision.policy is not None:
            kind, _, name = decision.policy.source.partition("|")
            matched.append({"SourcePolicyId": name, "SourcePolicyType": kind})
        results.append(
            {
                "EvalActionName": action,
                "EvalResourceName": resource,
                "EvalDecision": decision.eval_decision,
                "MatchedStatements": matched,
                "MissingContextValues": [],
            }
        )
    page = requested.fields("EvaluationResults")
    page["EvaluationResults"] = results
    return page


OPERATIONS: dict[str, Callable[[ApiRequest, Params], Result | None]] = {
    **_inline_views("User"),
    **_inline_views("Group"),
    **_inline_views("Role"),
    "CreatePolicy": create_policy,
    "GetPolicy": get_policy,
    "ListPolicies": list_policies,
    "DeletePolicy": delete_policy,
    "CreatePolicyVersion": create_policy_version,
    "GetPolicyVersion": get_policy_version,
    "ListPolicyVersions": list_policy_versions,
    "DeletePolicyVersion": delete_policy_version,
    "SetDefaultPolicyVersion": set_default_policy_version,
    "ListEntitiesForPolicy": list_entities_for_policy,
    "SimulatePrincipalPolicy": simulate_principal_policy,
}
