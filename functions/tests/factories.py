"""Database rows for fast (non-live) tests: a function with its $LATEST version."""

from __future__ import annotations

from django.utils import timezone

from functions.models import CodeBlob, Function, FunctionVersion
from iam.models import Account


def function_row(account: Account, name: str = "fn", *, runtime: str = "python3.11") -> Function:
    """A function and its $LATEST version, pointing at a placeholder code blob."""
    blob, _ = CodeBlob.objects.get_or_create(sha256_hex="0" * 64, size=1, unzipped_size=1)
    function = Function.objects.create(account=account, name=name)
    FunctionVersion.objects.create(
        function=function,
        number=0,
        runtime=runtime,
        handler="app.handler",
        role="arn:aws:iam::123456789012:role/r",
        code=blob,
        code_sha256="x",
        code_size=1,
        config_digest="d",
        last_modified=timezone.now(),
    )
    return function
