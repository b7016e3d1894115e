"""STS: temporary credentials for a user (GetSessionToken) or a role (AssumeRole, checked
against the role's trust policy by ``iam.policy``), and who a set of credentials is.

Credentials are rows (:class:`TemporaryCredential`) that SigV4 accepts with their session
token until they expire; the row records whose permissions they carry. A caller's expired
rows are removed whenever it asks for new ones, and it may hold at most
``MAX_LIVE_SESSIONS`` unexpired ones, so a loop of calls cannot pile them up.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from awsapi.errors import AWSError
from iam import entities
from iam.models import Account, Role, TemporaryCredential, User, new_iam_id
from iam.policy import Policy, Principal, RequestContext, evaluate
from iam.policy.document import PolicyKind
from iam.policy.evaluate import statement_applies
from iam.policy.principals import NONE

SESSION_MIN_SECONDS = 900
SESSION_MAX_SECONDS = 129_600  # GetSessionToken for an IAM user: 36 hours
ROOT_SESSION_MAX_SECONDS = 3_600
SESSION_DEFAULT_SECONDS = 43_200
CHAINED_MAX_SECONDS = 3_600
# Unexpired sessions one user may hold: a loop of AssumeRole calls cannot fill the table.
MAX_LIVE_SESSIONS = 5_000
_SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_ROLE_ARN = re.compile(r"arn:aws:iam::(\d{12}):role/(?:[\x21-\x7e]*/)?([\w+=,.@-]{1,64})")


def _validation(message: str) -> AWSError:
    return AWSError(message, code="ValidationError", status=400)


def _denied(caller_arn: str, action: str, resource: str = "") -> AWSError:
    message = f"User: {caller_arn} is not authorized to perform: {action}"
    if resource:
        message += f" on resource: {resource}"
    return AWSError(message, code="AccessDenied", status=403)


@dataclass(frozen=True)
class Issued:
    credential: TemporaryCredential
    session_token: str


def _issue(
    *,
    user: User | None,
    account: Account,
    seconds: int,
    role: Role | None = None,
    session_name: str = "",
    bounded: bool = True,
) -> Issued:
    """New credentials for ``user``, at most ``MAX_LIVE_SESSIONS`` live ones each. A caller
    without a user (a function's execution-role session chaining AssumeRole) is bounded per
    role instead. Lambda's own sessions (``bounded=False``, see :func:`execution_role_issue`)
    are a few per function and process a lifetime: not counted, removed by beat once
    expired."""
    token = "FQoGZXIvYXdzE" + base64.b64encode(secrets.token_bytes(180)).decode("ascii")
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
    expiration = timezone.now().replace(microsecond=0) + dt.timedelta(seconds=seconds)
    now = timezone.now()
    if bounded:
        mine = (
            TemporaryCredential.objects.filter(user=user)
            if user is not None
            else TemporaryCredential.objects.filter(user=None, role=role)
        )
        mine.filter(expiration__lt=now).delete()
        if mine.count() >= MAX_LIVE_SESSIONS:
            raise AWSError("Rate exceeded", code="Throttling", status=400)
    while True:
        try:
            with transaction.atomic():
                credential = TemporaryCredential.objects.create(
                    access_key_id=new_iam_id("ASIA"),
                    secret_access_key=secret,
                    session_token_sha256=hashlib.sha256(token.encode()).hexdigest(),
                    account=account,
                    user=user,
                    role=role,
                    session_name=session_name,
                    expiration=expiration,
                )
            return Issued(credential, token)
        except IntegrityError:
            continue


@dataclass(frozen=True)
class Caller:
    """Who is calling STS: the user, the admin flag, and the session it signs with. A
    function's execution-role session has no user (nobody asked for it)."""

    user: User | None
    is_admin: bool
    session: TemporaryCredential | None

    @property
    def arn(self) -> str:
        return self.session.arn if self.session is not None else self._user.arn

    @property
    def account_id(self) -> str:
        """The caller's own account: its user's (a role's session may act in another), else
        the session's."""
        if self.user is not None:
            return str(self.user.account_id)
        assert self.session is not None
        return str(self.session.account_id)

    @property
    def _user(self) -> User:
        assert self.user is not None, "only a session has no user"
        return self.user

    @property
    def role(self) -> Role | None:
        return self.session.role if self.session is not None else None


def caller_identity(caller: Caller) -> dict[str, str]:
    if caller.session is not None:
        return {
            "UserId": caller.session.caller_id,
            "Account": caller.session.account_id,
            "Arn": caller.arn,
        }
    user = caller._user
    return {"UserId": user.iam_id, "Account": user.account_id, "Arn": caller.arn}


def session_token_get(caller: Caller, seconds: int | None) -> Issued:
    if caller.session is not None:
        raise AWSError(
            "Cannot call GetSessionToken with session credentials",
            code="AccessDenied",
            status=403,
        )
    seconds = SESSION_DEFAULT_SECONDS if seconds is None else seconds
    # The model bounds DurationSeconds to 900-129600; the account's admin is root-like, and
    # a root user's sessions last at most an hour.
    limit = ROOT_SESSION_MAX_SECONDS if caller.is_admin else SESSION_MAX_SECONDS
    seconds = min(seconds, limit)
    user = caller._user
    return _issue(user=user, account=user.account, seconds=seconds)


def _principal(caller: Caller) -> Principal:
    role = caller.role
    session = caller.session
    if session is not None and role is not None:
        return Principal(
            session.arn,
            str(session.account_id),  # the role's account (a user may assume another's)
            "assumed-role",
            session.session_name,
            session.caller_id,
            role_arn=role.arn,
        )
    user = caller._user
    if caller.is_admin:
        # The account's admin acts as its root user: no identity-based policy needed.
        return Principal(user.arn, user.account_id, "root", user.username, user.iam_id)
    return Principal(user.arn, user.account_id, "user", user.username, user.iam_id, user.tags)


def _caller_policies(caller: Caller) -> list[Policy]:
    role = caller.role
    if role is not None:
        return entities.identity_policies(role)
    return [] if caller.is_admin else entities.identity_policies(caller._user)


def _role_named(role_arn: str) -> Role | None:
    """The role an ARN names (its path included), or None."""
    match = _ROLE_ARN.fullmatch(role_arn)
    if match is None:
        return None
    role = (
        Role.objects.select_related("account")
        .filter(account_id=match.group(1), name=match.group(2))
        .first()
    )
    if role is not None and role.arn != role_arn:
        return None  # the path in the ARN must be the role's
    return role


def role_assume(
    caller: Caller,
    role_arn: str,
    session_name: str,
    seconds: int | None,
    external_id: str | None = None,
) -> Issued:
    """Credentials of the role, if its trust policy (and, for a user of the role's account
    that the trust policy names only by account, the user's policies) let the caller in."""
    role = _role_named(role_arn)
    if role is None:
        # AWS does not tell a caller whether a role it may not assume exists.
        raise _denied(caller.arn, "sts:AssumeRole", role_arn)
    conditions: dict[str, str] = {"sts:RoleSessionName": session_name}
    if external_id is not None:
        conditions["sts:ExternalId"] = external_id
    context = RequestContext(_principal(caller), "sts:AssumeRole", role.arn, conditions)
    trust = entities.checked_policy(role.assume_role_policy_document, PolicyKind.TRUST)
    # A role's trust policy must let the caller in, in its own account too: the caller's
    # identity-based policies alone never do (unlike other resource policies).
    trusted = any(
        statement.effect == "Allow" and statement_applies(statement, context, True) != NONE
        for statement in trust.statements
    )
    decision = evaluate(context, _caller_policies(caller), trust, role.account_id)
    if not (trusted and decision.allowed):
        raise _denied(caller.arn, "sts:AssumeRole", role.arn)
    seconds = 3600 if seconds is None else seconds
    if seconds > role.max_session_duration:
        raise _validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        )
    if caller.role is not None and seconds > CHAINED_MAX_SECONDS:
        raise _validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles "
            "assumed by role chaining."
        )
    return _issue(
        user=caller.user,
        account=role.account,
        seconds=seconds,
        role=role,
        session_name=session_name,
    )


# ---- execution roles -------------------------------------------------------------------
#
# Lambda assumes a function's execution role (its ``Role``) for every environment: the
# session is the role's, named after the function, and asked for by no user. A role that
# does not exist in the function's account, or whose trust policy does not let
# ``lambda.amazonaws.com`` assume it, gives no credentials (or, with
# FUNCTORY_STRICT_EXECUTION_ROLES, is refused when the function is created or updated).

LAMBDA_SERVICE = "lambda.amazonaws.com"


@dataclass(frozen=True)
class ExecutionRole:
    """What a function's ``Role`` names: the role Lambda may assume, or why it may not
    (``problem``: ``missing`` or ``untrusted``)."""

    role: Role | None
    problem: str = ""

    MISSING = "missing"
    UNTRUSTED = "untrusted"

    @property
    def usable(self) -> bool:
        return self.role is not None and not self.problem


def execution_role_check(account_id: str, role_arn: str, function_arn: str = "") -> ExecutionRole:
    """Whether Lambda may assume ``role_arn`` for a function of ``account_id``: the role is
    the account's, and its trust policy lets the Lambda service in (``aws:SourceAccount``
    and, when known, ``aws:SourceArn`` set, as Lambda sets them)."""
    role = _role_named(role_arn)
    if role is None or role.account_id != account_id:
        return ExecutionRole(None, ExecutionRole.MISSING)
    conditions: dict[str, str] = {"aws:SourceAccount": account_id}
    if function_arn:
        conditions["aws:SourceArn"] = function_arn
    context = RequestContext(
        Principal(LAMBDA_SERVICE, "", "service", LAMBDA_SERVICE),
        "sts:AssumeRole",
        role.arn,
        conditions,
    )
    try:
        trust = entities.checked_policy(role.assume_role_policy_document, PolicyKind.TRUST)
    except AWSError:
        return ExecutionRole(role, ExecutionRole.UNTRUSTED)
    if not evaluate(context, (), trust, role.account_id).allowed:
        return ExecutionRole(role, ExecutionRole.UNTRUSTED)
    return ExecutionRole(role)


def execution_role_issue(role: Role, function_name: str, seconds: int) -> Issued:
    """A session of ``role`` for the function's environments (session name: the function's
    name), lasting ``seconds``."""
    return _issue(
        user=None,
        account=role.account,
        seconds=seconds,
        role=role,
        session_name=function_name,
        bounded=False,
    )


EXPIRE_BATCH = 5_000


def expired_credentials_delete(now: dt.datetime | None = None) -> int:
    """Remove temporary credentials that have expired (SigV4 refuses them anyway); in
    batches, so no statement holds long locks. Returns how many."""
    now = now or timezone.now()
    deleted = 0
    while True:
        batch = list(
            TemporaryCredential.objects.filter(expiration__lt=now).values_list("pk", flat=True)[
                :EXPIRE_BATCH
            ]
        )
        if not batch:
            return deleted
        deleted += TemporaryCredential.objects.filter(pk__in=batch).delete()[0]
