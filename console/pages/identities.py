"""Console: IAM for an account's administrators — users, groups, roles and customer managed
policies, their attachments and inline policies, edited in a JSON editor.

Every write is a POST to a JSON endpoint (CSRF-checked by the session authentication, recorded
by ``audit.middleware`` as a console action) that validates its input as the IAM API
validates the matching operation (its botocore model) and then calls the same
``iam.entities`` service the IAM API calls, so documents are judged by IAM's own rules and
messages (``MalformedPolicyDocument``, ``LimitExceeded``). Errors name the form field they
belong to; a failed write changes nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from awsapi.errors import AWSError
from awsapi.validation import validate
from console.pages._forms import account_of, field_of, text_field
from console.pages._request import ConsoleRequest
from console.pages.account import IsAccountAdmin
from iam import entities
from iam.models import Account, Group, ManagedPolicy, Role, User
from iam.policy.managed import POLICIES as AWS_POLICIES
from platformapi.views import SignedInRequest

Identity = User | Group | Role

# What a new policy's editor starts with: IAM's current language version, one statement.
POLICY_TEMPLATE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["lambda:GetFunction"], "Resource": "*"},
        ],
    },
    indent=2,
)
TRUST_TEMPLATE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    },
    indent=2,
)

# A validation message quotes the value it refused; a document can be 100 KB long.
_QUOTED_VALUE = re.compile(r"Value '(.{80})(.+?)' at '", re.DOTALL)
# The form fields IAM's errors belong to, by error code.
_DOCUMENT_ERRORS = frozenset({"MalformedPolicyDocument", "LimitExceeded"})


def _shortened(message: str) -> str:
    return _QUOTED_VALUE.sub(lambda match: f"Value '{match.group(1)}…' at '", message)


@contextmanager
def _iam(operation: str, params: dict[str, Any], *, document_field: str = "") -> Iterator[None]:
    """Validate ``params`` as the IAM API validates ``operation``, then run the block; an
    error is tied to its form field: the member a validation message names, else the
    document's field for IAM's document errors."""
    try:
        validate("iam", operation, params)
        yield
    except AWSError as error:
        error.message = _shortened(error.message)
        if getattr(error, "field", None) is None:
            found = field_of(error.message)
            if found is None and error.code in _DOCUMENT_ERRORS and document_field:
                found = document_field
            error.field = found  # type: ignore[attr-defined]
        raise


# ---- reads ------------------------------------------------------------------------------


def _identity(account: Account, kind: str, name: str) -> Identity:
    if kind == "user":
        return entities.user_get(account, name)
    if kind == "group":
        return entities.group_get(account, name)
    return entities.role_get(account, name)


def _attachable_policies(account: Account) -> list[dict[str, str]]:
    """Every policy an identity can be given: the account's own, then AWS's."""
    own = [
        {"arn": policy.arn, "name": policy.name, "kind": "Customer managed"}
        for policy in account.policies.order_by("name")
    ]
    aws = [
        {"arn": policy.arn, "name": policy.name, "kind": "AWS managed"}
        for policy in sorted(AWS_POLICIES, key=lambda p: p.name)
    ]
    return own + aws


def _policies_of(identity: Identity) -> dict[str, Any]:
    attached = entities.attached(identity)
    attached_arns = {row["PolicyArn"] for row in attached}
    account = identity.account
    inline = list(entities.inline_names(identity))
    kind = type(identity).__name__.lower()
    name = identity.username if isinstance(identity, User) else identity.name
    return {
        "attached": attached,
        "attachable": [
            row for row in _attachable_policies(account) if row["arn"] not in attached_arns
        ],
        "inline": inline,
        "inline_documents": {policy.name: policy.document for policy in inline},
        "policy_template": POLICY_TEMPLATE,
        "urls": {
            action.replace("-", "_"): reverse(f"iam-{kind}-{action}", args=[name])
            for action in ("attach", "detach", "inline-put", "inline-delete", "delete")
        },
    }


def _denied(request: ConsoleRequest) -> HttpResponse:
    return render(request, "console/iam_denied.html", status=403)


def _found(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except entities.NoSuchEntity:
        raise Http404("No such IAM entity.") from None


@login_required
@require_GET
def iam_page(request: ConsoleRequest) -> HttpResponse:
    if not request.user.is_staff:
        return _denied(request)
    account = account_of(request)
    counts = entities.attachment_counts(account.id)
    policies = [
        {"policy": policy, "attachments": counts.get(policy.arn, 0)}
        for policy in account.policies.order_by("name")
    ]
    context = {
        "account": account,
        "users": entities.users_list(account).prefetch_related("iam_groups"),
        "groups": account.iam_groups.order_by("name").prefetch_related("members"),
        "roles": account.roles.order_by("name"),
        "policies": policies,
        "aws_policies": sorted(AWS_POLICIES, key=lambda p: p.name),
        "policy_template": POLICY_TEMPLATE,
        "trust_template": TRUST_TEMPLATE,
    }
    return render(request, "console/iam.html", context)


@login_required
@require_GET
def user_page(request: ConsoleRequest, name: str) -> HttpResponse:
    if not request.user.is_staff:
        return _denied(request)
    account = account_of(request)
    user: User = _found(lambda: entities.user_get(account, name))
    groups = list(user.iam_groups.order_by("name"))
    context = {
        "kind": "user",
        "entity": user,
        "name": user.username,
        "groups": groups,
        "other_groups": account.iam_groups.exclude(pk__in=[g.pk for g in groups]).order_by("name"),
        "has_password": user.has_usable_password(),
        "keys": user.access_keys.order_by("created"),
        **_policies_of(user),
    }
    return render(request, "console/iam_identity.html", context)


@login_required
@require_GET
def group_page(request: ConsoleRequest, name: str) -> HttpResponse:
    if not request.user.is_staff:
        return _denied(request)
    account = account_of(request)
    group: Group = _found(lambda: entities.group_get(account, name))
    members = list(group.members.order_by("username"))
    context = {
        "kind": "group",
        "entity": group,
        "name": group.name,
        "members": members,
        "non_members": entities.users_list(account).exclude(pk__in=[u.pk for u in members]),
        **_policies_of(group),
    }
    return render(request, "console/iam_identity.html", context)


@login_required
@require_GET
def role_page(request: ConsoleRequest, name: str) -> HttpResponse:
    if not request.user.is_staff:
        return _denied(request)
    account = account_of(request)
    role: Role = _found(lambda: entities.role_get(account, name))
    context = {
        "kind": "role",
        "entity": role,
        "name": role.name,
        "trust": role.assume_role_policy_document,
        **_policies_of(role),
    }
    return render(request, "console/iam_identity.html", context)


@login_required
@require_GET
def policy_page(request: ConsoleRequest, name: str) -> HttpResponse:
    if not request.user.is_staff:
        return _denied(request)
    account = account_of(request)
    policy: ManagedPolicy = _found(lambda: entities.policy_get_by_name(account, name))
    versions = [
        {
            "id": version.version_id,
            "created": version.created,
            "default": version.version_id == policy.default_version_id,
            "document": version.document,
        }
        for version in policy.versions.order_by("-created", "-id")
    ]
    default = next((v["document"] for v in versions if v["default"]), POLICY_TEMPLATE)
    context = {
        "policy": policy,
        "versions": versions,
        "default_document": default,
        "attached_to": entities.entities_for_policy(account, policy.arn),
    }
    return render(request, "console/iam_policy.html", context)


# ---- writes -----------------------------------------------------------------------------


class IsIamAdmin(IsAccountAdmin):
    message = "Only an account administrator can manage users, groups, roles and policies."


class _AdminView(APIView):
    permission_classes = [IsAuthenticated, IsIamAdmin]


def _created(member: str) -> type[serializers.Serializer[Any]]:
    """The answer to a create: the new entity's name (under ``member``) and ARN."""
    fields: dict[str, Any] = {member: serializers.CharField(), "Arn": serializers.CharField()}
    return type(f"Iam{member.removesuffix('Name')}Created", (serializers.Serializer,), fields)


UserCreated = _created("UserName")
GroupCreated = _created("GroupName")
RoleCreated = _created("RoleName")
PolicyCreated = _created("PolicyName")


class IamVersionCreated(serializers.Serializer[Any]):
    VersionId = serializers.CharField()
    IsDefaultVersion = serializers.BooleanField()


class IamUserCreateInput(serializers.Serializer[Any]):
    UserName = text_field()
    Password = text_field()


class UserCreateView(_AdminView):
    error_fields = {"UserName": "userName", "Password": "password"}

    @extend_schema(request=IamUserCreateInput, responses={201: UserCreated})
    def post(self, request: SignedInRequest) -> Response:
        """Create an IAM user, with a console password when one is given (both or none)."""
        data = IamUserCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        name = data.validated_data.get("UserName") or ""
        password = data.validated_data.get("Password") or None
        with _iam("CreateUser", {"UserName": name}), transaction.atomic():
            user = entities.user_create(request.user.account, name)
            if password is not None:
                try:
                    entities.login_profile_set(user, password, create=True)
                except AWSError as error:
                    error.field = "password"  # type: ignore[attr-defined]
                    raise
        return Response({"UserName": user.username, "Arn": user.arn}, status=201)


class UserDeleteView(_AdminView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request: SignedInRequest, name: str) -> Response:
        """Delete a user with its password, keys, memberships and policies."""
        with _iam("DeleteUser", {"UserName": name}):
            user = entities.user_get(request.user.account, name)
            entities.user_delete_with_dependents(request.user, user)
        return Response(status=204)


class IamMemberInput(serializers.Serializer[Any]):
    UserName = text_field()


class GroupMemberView(_AdminView):
    """Add a user to a group, or remove them (``add``: AddUserToGroup, else
    RemoveUserFromGroup)."""

    add = True
    error_fields = {"UserName": "userName"}

    @extend_schema(request=IamMemberInput, responses={204: None})
    def post(self, request: SignedInRequest, name: str) -> Response:
        data = IamMemberInput(data=request.data)
        data.is_valid(raise_exception=True)
        username = data.validated_data.get("UserName") or ""
        operation = "AddUserToGroup" if self.add else "RemoveUserFromGroup"
        account = request.user.account
        with _iam(operation, {"GroupName": name, "UserName": username}):
            group = entities.group_get(account, name)
            user = entities.user_get(account, username)
            if self.add:
                entities.group_add_user(group, user)
            else:
                entities.group_remove_user(group, user)
        return Response(status=204)


class IamGroupCreateInput(serializers.Serializer[Any]):
    GroupName = text_field()


class GroupCreateView(_AdminView):
    error_fields = {"GroupName": "groupName"}

    @extend_schema(request=IamGroupCreateInput, responses={201: GroupCreated})
    def post(self, request: SignedInRequest) -> Response:
        data = IamGroupCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        name = data.validated_data.get("GroupName") or ""
        with _iam("CreateGroup", {"GroupName": name}):
            group = entities.group_create(request.user.account, name)
        return Response({"GroupName": group.name, "Arn": group.arn}, status=201)


class GroupDeleteView(_AdminView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request: SignedInRequest, name: str) -> Response:
        """Delete a group after removing its members and policies."""
        with _iam("DeleteGroup", {"GroupName": name}):
            entities.group_delete_with_dependents(entities.group_get(request.user.account, name))
        return Response(status=204)


class IamRoleCreateInput(serializers.Serializer[Any]):
    RoleName = text_field()
    Description = text_field()
    AssumeRolePolicyDocument = text_field()


class RoleCreateView(_AdminView):
    error_fields = {
        "RoleName": "roleName",
        "Description": "description",
        "AssumeRolePolicyDocument": "assumeRolePolicyDocument",
    }

    @extend_schema(request=IamRoleCreateInput, responses={201: RoleCreated})
    def post(self, request: SignedInRequest) -> Response:
        """Create a role with its trust policy (checked as IAM checks a trust policy)."""
        data = IamRoleCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        params: dict[str, Any] = {
            "RoleName": data.validated_data.get("RoleName") or "",
            "AssumeRolePolicyDocument": data.validated_data.get("AssumeRolePolicyDocument") or "",
        }
        if data.validated_data.get("Description"):
            params["Description"] = data.validated_data.get("Description")
        with _iam("CreateRole", params, document_field="assumeRolePolicyDocument"):
            role = entities.role_create(
                request.user.account,
                params["RoleName"],
                params["AssumeRolePolicyDocument"],
                description=params.get("Description", ""),
            )
        return Response({"RoleName": role.name, "Arn": role.arn}, status=201)


class RoleDeleteView(_AdminView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request: SignedInRequest, name: str) -> Response:
        """Delete a role after detaching and deleting its policies."""
        with _iam("DeleteRole", {"RoleName": name}):
            entities.role_delete_with_dependents(entities.role_get(request.user.account, name))
        return Response(status=204)


class IamDocumentInput(serializers.Serializer[Any]):
    PolicyDocument = text_field()


class RoleTrustView(_AdminView):
    error_fields = {"PolicyDocument": "policyDocument"}

    @extend_schema(request=IamDocumentInput, responses={204: None})
    def post(self, request: SignedInRequest, name: str) -> Response:
        """Replace a role's trust policy (UpdateAssumeRolePolicy)."""
        data = IamDocumentInput(data=request.data)
        data.is_valid(raise_exception=True)
        document = data.validated_data.get("PolicyDocument") or ""
        params = {"RoleName": name, "PolicyDocument": document}
        with _iam("UpdateAssumeRolePolicy", params, document_field="policyDocument"):
            entities.role_update_trust(entities.role_get(request.user.account, name), document)
        return Response(status=204)


class IamDescriptionInput(serializers.Serializer[Any]):
    Description = text_field()


class RoleDescriptionView(_AdminView):
    error_fields = {"Description": "description"}

    @extend_schema(request=IamDescriptionInput, responses={204: None})
    def post(self, request: SignedInRequest, name: str) -> Response:
        """Change a role's description (UpdateRole)."""
        data = IamDescriptionInput(data=request.data)
        data.is_valid(raise_exception=True)
        description = data.validated_data.get("Description") or ""
        with _iam("UpdateRole", {"RoleName": name, "Description": description}):
            role = entities.role_get(request.user.account, name)
            entities.role_update(role, description, None)
        return Response(status=204)


# -- policies of users, groups and roles (one view per action, for each kind) -------------

_MEMBER = {"user": "UserName", "group": "GroupName", "role": "RoleName"}
_WORD = {"user": "User", "group": "Group", "role": "Role"}


class IamArnInput(serializers.Serializer[Any]):
    PolicyArn = text_field()


class AttachView(_AdminView):
    """Attach a managed policy (the account's or AWS's) to a user, group or role, or detach
    it (``attach`` False)."""

    attach = True
    kind = "user"
    error_fields = {"PolicyArn": "policyArn"}

    @extend_schema(request=IamArnInput, responses={204: None})
    def post(self, request: SignedInRequest, name: str) -> Response:
        data = IamArnInput(data=request.data)
        data.is_valid(raise_exception=True)
        arn = data.validated_data.get("PolicyArn") or ""
        verb = "Attach" if self.attach else "Detach"
        params = {_MEMBER[self.kind]: name, "PolicyArn": arn}
        with _iam(f"{verb}{_WORD[self.kind]}Policy", params, document_field="policyArn"):
            identity = _identity(request.user.account, self.kind, name)
            if self.attach:
                entities.attach(identity, arn)
            else:
                entities.detach(identity, arn)
        return Response(status=204)


class IamInlineInput(serializers.Serializer[Any]):
    PolicyName = text_field()
    PolicyDocument = text_field()


class InlinePutView(_AdminView):
    """Create or replace an inline policy of a user, group or role (Put*Policy)."""

    kind = "user"
    error_fields = {"PolicyName": "policyName", "PolicyDocument": "policyDocument"}

    @extend_schema(request=IamInlineInput, responses={204: None})
    def post(self, request: SignedInRequest, name: str) -> Response:
        data = IamInlineInput(data=request.data)
        data.is_valid(raise_exception=True)
        policy_name = data.validated_data.get("PolicyName") or ""
        document = data.validated_data.get("PolicyDocument") or ""
        params = {_MEMBER[self.kind]: name, "PolicyName": policy_name, "PolicyDocument": document}
        operation = f"Put{_WORD[self.kind]}Policy"
        with _iam(operation, params, document_field="policyDocument"):
            identity = _identity(request.user.account, self.kind, name)
            entities.inline_put(identity, policy_name, document)
        return Response(status=204)


class IamInlineNameInput(serializers.Serializer[Any]):
    PolicyName = text_field()


class InlineDeleteView(_AdminView):
    kind = "user"
    error_fields = {"PolicyName": "policyName"}

    @extend_schema(request=IamInlineNameInput, responses={204: None})
    def post(self, request: SignedInRequest, name: str) -> Response:
        data = IamInlineNameInput(data=request.data)
        data.is_valid(raise_exception=True)
        policy_name = data.validated_data.get("PolicyName") or ""
        params = {_MEMBER[self.kind]: name, "PolicyName": policy_name}
        with _iam(f"Delete{_WORD[self.kind]}Policy", params):
            identity = _identity(request.user.account, self.kind, name)
            entities.inline_get(identity, policy_name).delete()
        return Response(status=204)


# -- customer managed policies --------------------------------------------------------------


class IamPolicyCreateInput(serializers.Serializer[Any]):
    PolicyName = text_field()
    Description = text_field()
    PolicyDocument = text_field()


class PolicyCreateView(_AdminView):
    error_fields = {
        "PolicyName": "policyName",
        "Description": "description",
        "PolicyDocument": "policyDocument",
    }

    @extend_schema(request=IamPolicyCreateInput, responses={201: PolicyCreated})
    def post(self, request: SignedInRequest) -> Response:
        """Create a customer managed policy (its version v1 is the default)."""
        data = IamPolicyCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        params: dict[str, Any] = {
            "PolicyName": data.validated_data.get("PolicyName") or "",
            "PolicyDocument": data.validated_data.get("PolicyDocument") or "",
        }
        if data.validated_data.get("Description"):
            params["Description"] = data.validated_data.get("Description")
        with _iam("CreatePolicy", params, document_field="policyDocument"):
            policy = entities.policy_create(
                request.user.account,
                params["PolicyName"],
                params["PolicyDocument"],
                description=params.get("Description", ""),
            )
        return Response({"PolicyName": policy.name, "Arn": policy.arn}, status=201)


def _policy_named(request: SignedInRequest, name: str) -> ManagedPolicy:
    return entities.policy_get_by_name(request.user.account, name)


class PolicyDeleteView(_AdminView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request: SignedInRequest, name: str) -> Response:
        """Delete a policy after detaching it everywhere and deleting its other versions."""
        policy = _policy_named(request, name)
        with _iam("DeletePolicy", {"PolicyArn": policy.arn}):
            entities.policy_delete_with_dependents(policy)
        return Response(status=204)


class IamVersionCreateInput(serializers.Serializer[Any]):
    PolicyDocument = text_field()
    SetAsDefault = serializers.BooleanField(required=False, default=True, allow_null=True)


class VersionCreateView(_AdminView):
    error_fields = {"PolicyDocument": "policyDocument", "SetAsDefault": "setAsDefault"}

    @extend_schema(request=IamVersionCreateInput, responses={201: IamVersionCreated})
    def post(self, request: SignedInRequest, name: str) -> Response:
        """A new version of a policy, the default unless told otherwise."""
        data = IamVersionCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        document = data.validated_data.get("PolicyDocument") or ""
        default = data.validated_data.get("SetAsDefault") is not False
        policy = _policy_named(request, name)
        params = {"PolicyArn": policy.arn, "PolicyDocument": document, "SetAsDefault": default}
        with _iam("CreatePolicyVersion", params, document_field="policyDocument"):
            version = entities.version_create(policy, document, default)
        return Response({"VersionId": version.version_id, "IsDefaultVersion": default}, status=201)


class IamVersionInput(serializers.Serializer[Any]):
    VersionId = text_field()


class VersionDefaultView(_AdminView):
    error_fields = {"VersionId": "versions"}

    @extend_schema(request=IamVersionInput, responses={204: None})
    def post(self, request: SignedInRequest, name: str) -> Response:
        """Make a version the policy's default (SetDefaultPolicyVersion)."""
        data = IamVersionInput(data=request.data)
        data.is_valid(raise_exception=True)
        version_id = data.validated_data.get("VersionId") or ""
        policy = _policy_named(request, name)
        with _iam("SetDefaultPolicyVersion", {"PolicyArn": policy.arn, "VersionId": version_id}):
            entities.version_set_default(policy, version_id)
        return Response(status=204)


class VersionDeleteView(_AdminView):
    error_fields = {"VersionId": "versions"}

    @extend_schema(request=IamVersionInput, responses={204: None})
    def post(self, request: SignedInRequest, name: str) -> Response:
        """Delete a version that is not the default (DeletePolicyVersion)."""
        data = IamVersionInput(data=request.data)
        data.is_valid(raise_exception=True)
        version_id = data.validated_data.get("VersionId") or ""
        policy = _policy_named(request, name)
        with _iam("DeletePolicyVersion", {"PolicyArn": policy.arn, "VersionId": version_id}):
            entities.version_delete(policy, version_id)
        return Response(status=204)


def _identity_routes(kind: str) -> list[Any]:
    base = f"account/iam/{kind}s/<str:name>"
    return [
        path(
            f"{base}/attach",
            AttachView.as_view(kind=kind, attach=True),
            name=f"iam-{kind}-attach",
        ),
        path(
            f"{base}/detach",
            AttachView.as_view(kind=kind, attach=False),
            name=f"iam-{kind}-detach",
        ),
        path(f"{base}/inline", InlinePutView.as_view(kind=kind), name=f"iam-{kind}-inline-put"),
        path(
            f"{base}/inline/delete",
            InlineDeleteView.as_view(kind=kind),
            name=f"iam-{kind}-inline-delete",
        ),
    ]


urlpatterns: list[Any] = [
    path("account/iam/", iam_page, name="iam"),
    path("account/iam/users/<str:name>/", user_page, name="iam-user"),
    path("account/iam/groups/<str:name>/", group_page, name="iam-group"),
    path("account/iam/roles/<str:name>/", role_page, name="iam-role"),
    path("account/iam/policies/<str:name>/", policy_page, name="iam-policy"),
    path("account/iam/users", UserCreateView.as_view(), name="iam-user-create"),
    path("account/iam/users/<str:name>/delete", UserDeleteView.as_view(), name="iam-user-delete"),
    path("account/iam/groups", GroupCreateView.as_view(), name="iam-group-create"),
    path(
        "account/iam/groups/<str:name>/delete", GroupDeleteView.as_view(), name="iam-group-delete"
    ),
    path(
        "account/iam/groups/<str:name>/add-user",
        GroupMemberView.as_view(add=True),
        name="iam-group-add-user",
    ),
    path(
        "account/iam/groups/<str:name>/remove-user",
        GroupMemberView.as_view(add=False),
        name="iam-group-remove-user",
    ),
    path("account/iam/roles", RoleCreateView.as_view(), name="iam-role-create"),
    path("account/iam/roles/<str:name>/delete", RoleDeleteView.as_view(), name="iam-role-delete"),
    path("account/iam/roles/<str:name>/trust", RoleTrustView.as_view(), name="iam-role-trust"),
    path(
        "account/iam/roles/<str:name>/description",
        RoleDescriptionView.as_view(),
        name="iam-role-description",
    ),
    *_identity_routes("user"),
    *_identity_routes("group"),
    *_identity_routes("role"),
    path("account/iam/policies", PolicyCreateView.as_view(), name="iam-policy-create"),
    path(
        "account/iam/policies/<str:name>/delete",
        PolicyDeleteView.as_view(),
        name="iam-policy-delete",
    ),
    path(
        "account/iam/policies/<str:name>/versions",
        VersionCreateView.as_view(),
        name="iam-policy-version-create",
    ),
    path(
        "account/iam/policies/<str:name>/default",
        VersionDefaultView.as_view(),
        name="iam-policy-version-default",
    ),
    path(
        "account/iam/policies/<str:name>/versions/delete",
        VersionDeleteView.as_view(),
        name="iam-policy-version-delete",
    ),
]
