"""IAM users, access keys, groups and roles: thin views over ``iam.entities``, each
``view(request, params) -> the output members`` of the botocore model."""

from __future__ import annotations

from typing import Any

from awsapi.errors import AWSError
from iam import entities, services
from iam.authentication import ApiRequest
from iam.models import AccessKey, Group, Role, User

Params = dict[str, Any]
Result = dict[str, Any]


def user_shape(user: User, tags: bool = False) -> Result:
    shape: Result = {
        "Path": user.path,
        "UserName": user.username,
        "UserId": user.iam_id,
        "Arn": user.arn,
        "CreateDate": user.date_joined,
    }
    if tags and user.tags:
        shape["Tags"] = entities.tag_list(user.tags)
    return shape


def group_shape(group: Group) -> Result:
    return {
        "Path": group.path,
        "GroupName": group.name,
        "GroupId": group.group_id,
        "Arn": group.arn,
        "CreateDate": group.created,
    }


def role_shape(role: Role, tags: bool = False) -> Result:
    shape: Result = {
        "Path": role.path,
        "RoleName": role.name,
        "RoleId": role.role_id,
        "Arn": role.arn,
        "CreateDate": role.created,
        "AssumeRolePolicyDocument": role.assume_role_policy_document,
        "MaxSessionDuration": role.max_session_duration,
    }
    if role.description:
        shape["Description"] = role.description
    if tags and role.tags:
        shape["Tags"] = entities.tag_list(role.tags)
    return shape


def key_shape(key: AccessKey, secret: bool = False) -> Result:
    shape: Result = {
        "UserName": key.user.username,
        "AccessKeyId": key.access_key_id,
        "Status": key.status,
        "CreateDate": key.created,
    }
    if secret:
        shape["SecretAccessKey"] = key.secret_access_key
    return shape


def _user(request: ApiRequest, params: Params) -> User:
    """The user a request names, or the caller when it names none (as IAM does)."""
    name = params.get("UserName")
    if name is None:
        return _caller_user(request)
    return entities.user_get(request.account, name)


def _caller_user(request: ApiRequest) -> User:
    if request.user is None:  # a function's execution role: a session nobody asked for
        raise AWSError(
            "Must specify userName when calling with non-User credentials",
            code="ValidationError",
            status=400,
        )
    return request.user


# ---- users ----------------------------------------------------------------------------


def create_user(request: ApiRequest, params: Params) -> Result:
    user = entities.user_create(
        request.account, params["UserName"], params.get("Path", "/"), params.get("Tags")
    )
    return {"User": user_shape(user, tags=True)}


def get_user(request: ApiRequest, params: Params) -> Result:
    return {"User": user_shape(_user(request, params), tags=True)}


def list_users(request: ApiRequest, params: Params) -> Result:
    found = entities.page(
        entities.users_list(request.account, params.get("PathPrefix", "/")), params
    )
    result = found.fields("Users")
    result["Users"] = [user_shape(user) for user in found.items]
    return result


def delete_user(request: ApiRequest, params: Params) -> None:
    entities.user_delete(
        _caller_user(request), entities.user_get(request.account, params["UserName"])
    )


def tag_user(request: ApiRequest, params: Params) -> None:
    entities.entity_tag(entities.user_get(request.account, params["UserName"]), params["Tags"])


def untag_user(request: ApiRequest, params: Params) -> None:
    user = entities.user_get(request.account, params["UserName"])
    entities.entity_untag(user, params["TagKeys"])


def list_user_tags(request: ApiRequest, params: Params) -> Result:
    user = entities.user_get(request.account, params["UserName"])
    found = entities.page(entities.tag_list(user.tags), params)
    return found.fields("Tags")


# ---- login profiles (console passwords) -------------------------------------------------


def _login_profile(user: User) -> Result:
    return {
        "LoginProfile": {
            "UserName": user.username,
            "CreateDate": user.date_joined,
            "PasswordResetRequired": False,
        }
    }


def create_login_profile(request: ApiRequest, params: Params) -> Result:
    user = _user(request, params)
    entities.login_profile_set(user, params.get("Password"), create=True)
    return _login_profile(user)


def get_login_profile(request: ApiRequest, params: Params) -> Result:
    return _login_profile(entities.login_profile_get(_user(request, params)))


def update_login_profile(request: ApiRequest, params: Params) -> None:
    entities.login_profile_set(_user(request, params), params.get("Password"), create=False)


def delete_login_profile(request: ApiRequest, params: Params) -> None:
    entities.login_profile_delete(_user(request, params))


# ---- access keys ----------------------------------------------------------------------


def create_access_key(request: ApiRequest, params: Params) -> Result:
    key = entities.access_key_create(_user(request, params))
    return {"AccessKey": key_shape(key, secret=True)}


def list_access_keys(request: ApiRequest, params: Params) -> Result:
    user = _user(request, params)
    found = entities.page(user.access_keys.order_by("created", "access_key_id"), params)
    result = found.fields("AccessKeyMetadata")
    result["AccessKeyMetadata"] = [key_shape(key) for key in found.items]
    return result


def update_access_key(request: ApiRequest, params: Params) -> None:
    key = entities.access_key_get(_user(request, params), params["AccessKeyId"])
    services.access_key_set_status(key=key, active=params["Status"] == "Active")


def delete_access_key(request: ApiRequest, params: Params) -> None:
    key = entities.access_key_get(_user(request, params), params["AccessKeyId"])
    services.access_key_delete(key=key)


# ---- groups ---------------------------------------------------------------------------


def create_group(request: ApiRequest, params: Params) -> Result:
    group = entities.group_create(request.account, params["GroupName"], params.get("Path", "/"))
    return {"Group": group_shape(group)}


def get_group(request: ApiRequest, params: Params) -> Result:
    group = entities.group_get(request.account, params["GroupName"])
    found = entities.page(group.members.order_by("username"), params)
    result = found.fields("Users")
    result["Users"] = [user_shape(user) for user in found.items]
    result["Group"] = group_shape(group)
    return result


def list_groups(request: ApiRequest, params: Params) -> Result:
    groups = request.account.iam_groups.filter(
        path__startswith=params.get("PathPrefix", "/")
    ).order_by("name")
    found = entities.page(groups, params)
    result = found.fields("Groups")
    result["Groups"] = [group_shape(group) for group in found.items]
    return result


def delete_group(request: ApiRequest, params: Params) -> None:
    entities.group_delete(entities.group_get(request.account, params["GroupName"]))


def add_user_to_group(request: ApiRequest, params: Params) -> None:
    group = entities.group_get(request.account, params["GroupName"])
    entities.group_add_user(group, entities.user_get(request.account, params["UserName"]))


def remove_user_from_group(request: ApiRequest, params: Params) -> None:
    group = entities.group_get(request.account, params["GroupName"])
    entities.group_remove_user(group, entities.user_get(request.account, params["UserName"]))


def list_groups_for_user(request: ApiRequest, params: Params) -> Result:
    user = entities.user_get(request.account, params["UserName"])
    found = entities.page(user.iam_groups.order_by("name"), params)
    result = found.fields("Groups")
    result["Groups"] = [group_shape(group) for group in found.items]
    return result


# ---- roles ----------------------------------------------------------------------------


def create_role(request: ApiRequest, params: Params) -> Result:
    role = entities.role_create(
        request.account,
        params["RoleName"],
        params["AssumeRolePolicyDocument"],
        path=params.get("Path", "/"),
        description=params.get("Description", ""),
        max_session_duration=params.get("MaxSessionDuration", 3600),
        tags=params.get("Tags"),
    )
    return {"Role": role_shape(role, tags=True)}


def get_role(request: ApiRequest, params: Params) -> Result:
    return {"Role": role_shape(entities.role_get(request.account, params["RoleName"]), tags=True)}


def list_roles(request: ApiRequest, params: Params) -> Result:
    roles = request.account.roles.filter(path__startswith=params.get("PathPrefix", "/")).order_by(
        "name"
    )
    found = entities.page(roles, params)
    result = found.fields("Roles")
    result["Roles"] = [role_shape(role) for role in found.items]
    return result


def delete_role(request: ApiRequest, params: Params) -> None:
    entities.role_delete(entities.role_get(request.account, params["RoleName"]))


def update_assume_role_policy(request: ApiRequest, params: Params) -> None:
    role = entities.role_get(request.account, params["RoleName"])
    entities.role_update_trust(role, params["PolicyDocument"])


def update_role(request: ApiRequest, params: Params) -> Result:
    role = entities.role_get(request.account, params["RoleName"])
    entities.role_update(role, params.get("Description"), params.get("MaxSessionDuration"))
    return {}


def tag_role(request: ApiRequest, params: Params) -> None:
    entities.entity_tag(entities.role_get(request.account, params["RoleName"]), params["Tags"])


def untag_role(request: ApiRequest, params: Params) -> None:
    role = entities.role_get(request.account, params["RoleName"])
    entities.entity_untag(role, params["TagKeys"])


def list_role_tags(request: ApiRequest, params: Params) -> Result:
    role = entities.role_get(request.account, params["RoleName"])
    return entities.page(entities.tag_list(role.tags), params).fields("Tags")


OPERATIONS = {
    "CreateUser": create_user,
    "GetUser": get_user,
    "ListUsers": list_users,
    "DeleteUser": delete_user,
    "TagUser": tag_user,
    "UntagUser": untag_user,
    "ListUserTags": list_user_tags,
    "CreateLoginProfile": create_login_profile,
    "GetLoginProfile": get_login_profile,
    "UpdateLoginProfile": update_login_profile,
    "DeleteLoginProfile": delete_login_profile,
    "CreateAccessKey": create_access_key,
    "ListAccessKeys": list_access_keys,
    "UpdateAccessKey": update_access_key,
    "DeleteAccessKey": delete_access_key,
    "CreateGroup": create_group,
    "GetGroup": get_group,
    "ListGroups": list_groups,
    "DeleteGroup": delete_group,
    "AddUserToGroup": add_user_to_group,
    "RemoveUserFromGroup": remove_user_from_group,
    "ListGroupsForUser": list_groups_for_user,
    "CreateRole": create_role,
    "GetRole": get_role,
    "ListRoles": list_roles,
    "DeleteRole": delete_role,
    "UpdateAssumeRolePolicy": update_assume_role_policy,
    "UpdateRole": update_role,
    "TagRole": tag_role,
    "UntagRole": untag_role,
    "ListRoleTags": list_role_tags,
}
