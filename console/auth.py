"""Sign-in with per-account user names.

``<account id>/<name>`` names one user exactly (AWS signs IAM users in with the account and
the name). A bare ``<name>`` is accepted too when the password matches exactly one user of
that name; to keep the number of same-named users in other accounts from showing in the
response time, a bare name always costs ``_CANDIDATES`` password checks.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.hashers import make_password
from django.http import HttpRequest

from iam.models import User

_CANDIDATES = 5


class AccountUserBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if not username or password is None:
            return None
        account_id, slash, name = username.partition("/")
        if slash:
            candidates = list(User.objects.filter(account_id=account_id, username=name)[:1])
            budget = 1
        else:
            candidates = list(User.objects.filter(username=username).order_by("pk")[:_CANDIDATES])
            budget = _CANDIDATES
        matches = [
            user
            for user in candidates
            if user.check_password(password) and self.user_can_authenticate(user)
        ]
        for _ in range(budget - len(candidates)):
            make_password(password)  # the same hashing cost as a real candidate
        return matches[0] if len(matches) == 1 else None
