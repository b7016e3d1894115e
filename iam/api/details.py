"""GetAccountAuthorizationDetails: every user, group, role and managed policy of the account
with their inline and attached policies, in one (paged) answer."""

from __future__ import annotations

from typing import Any

from iam import entities
from iam.api.identities import Params, Result, group_shape, role_shape, user_shape
from iam.api.policies import policy_shape
from iam.authentication import ApiRequest
from iam.models import Group, ManagedPolicy, PolicyAttachment, Role, User
from iam.policy.managed import BY_ARN
from iam.policy.managed import ManagedPolicy as AwsPolicy

ALL_KINDS = ("User", "Group", "Role", "LocalManagedPolicy", "AWSManagedPolicy")


def _inline(identity: User | Group | Role) -> list[dict[str, str]]:
    return [
        {"PolicyName": policy.name, "PolicyDocument": policy.document}
        for policy in entities.inline_names(identity)
    ]


def _user(user: User) -> Result:
    shape = user_shape(user, tags=True)
    shape["UserPolicyList"] = _inline(user)
    shape["GroupList"] = list(user.iam_groups.order_by("name").values_list("name", flat=True))
    shape["AttachedManagedPolicies"] = entities.attached(user)
    return shape


def _group(group: Group) -> Result:
    shape = group_shape(group)
    shape["GroupPolicyList"] = _inline(group)
    shape["AttachedManagedPolicies"] = entities.attached(group)
    return shape


def _role(role: Role) -> Result:
    shape = role_shape(role, tags=True)
    shape["InstanceProfileList"] = []
    shape["RolePolicyList"] = _inline(role)
    shape["AttachedManagedPolicies"] = entities.attached(role)
    return shape


def _policy(account_id: str, policy: ManagedPolicy | AwsPolicy) -> Result:
    shape = policy_shape(account_id, policy, full=True)
    if isinstance(policy, AwsPolicy):
        versions = [
            {
                "Document": policy.document,
                "VersionId": "v1",
                "IsDefaultVersion": True,
                "CreateDate": entities.AWS_POLICY_CREATED,
            }
        ]
    else:
        versions = [
            {
                "Document": version.document,
                "VersionId": version.version_id,
                "IsDefaultVersion": version.version_id == policy.default_version_id,
                "CreateDate": version.created,
            }
            for version in policy.versions.order_by("-created", "-id")
        ]
    shape["PolicyVersionList"] = versions
    shape.pop("Tags", None)  # not a member of ManagedPolicyDetail
    return shape


def get_account_authorization_details(request: ApiRequest, params: Params) -> Result:
    account = request.account
    kinds = set(params.get("Filter") or ALL_KINDS)
    found: list[tuple[str, Any]] = []
    if "User" in kinds:
        users = User.objects.filter(account=account).order_by("username")
        found += [("User", user) for user in users]
    if "Group" in kinds:
        found += [("Group", group) for group in account.iam_groups.order_by("name")]
    if "Role" in kinds:
        found += [("Role", role) for role in account.roles.order_by("name")]
    if "LocalManagedPolicy" in kinds:
        found += [("Policy", policy) for policy in account.policies.order_by("name")]
    if "AWSManagedPolicy" in kinds:
        attached = set(
            PolicyAttachment.objects.filter(account=account, policy__isnull=True).values_list(
                "policy_arn", flat=True
            )
        )
        found += [("Policy", BY_ARN[arn]) for arn in sorted(attached) if arn in BY_ARN]
    page = entities.page(found, params)
    result: Result = {
        "UserDetailList": [],
        "GroupDetailList": [],
        "RoleDetailList": [],
        "Policies": [],
        "IsTruncated": page.marker is not None,
    }
    if page.marker is not None:
        result["Marker"] = page.marker
    for kind, item in page.items:
        if kind == "User":
            result["UserDetailList"].append(_user(item))
        elif kind == "Group":
            result["GroupDetailList"].append(_group(item))
        elif kind == "Role":
            result["RoleDetailList"].append(_role(item))
        else:
            result["Policies"].append(_policy(account.id, item))
    return result


OPERATIONS = {"GetAccountAuthorizationDetails": get_account_authorization_details}
