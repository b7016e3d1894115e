"""UpdateFunctionConfiguration writes only the columns it changed (in-process): every
change is stored, and what a call leaves alone keeps its stored value."""

from __future__ import annotations

import pytest

from functions import selectors
from functions.models import FunctionVersion
from functions.services import functions as services
from functions.tests.factories import function_row
from iam import services as iam_services

pytestmark = pytest.mark.django_db


def _update(params: dict[str, object]) -> FunctionVersion:
    account = iam_services.account_get_or_create("111111111111")
    resolved = selectors.function_resolve(account, "fn")
    return services.function_update_configuration(resolved=resolved, params=params)


def test_each_changed_setting_is_stored_and_the_others_kept() -> None:
    function_row(iam_services.account_get_or_create("111111111111"), "fn")
    first = _update(
        {
            "Description": "one",
            "Timeout": 30,
            "MemorySize": 256,
            "Environment": {"Variables": {"STAGE": "a"}},
            "TracingConfig": {"Mode": "Active"},
        }
    )
    second = _update({"Environment": {"Variables": {"STAGE": "b", "MORE": "c"}}})
    stored = FunctionVersion.objects.get(pk=first.pk)
    assert (
        stored.description,
        stored.timeout,
        stored.memory_size,
        stored.environment,
        stored.tracing_mode,
    ) == ("one", 30, 256, {"STAGE": "b", "MORE": "c"}, "Active")
    assert (stored.revision_id, stored.last_modified) == (
        second.revision_id,
        second.last_modified,
    )
    assert first.revision_id != second.revision_id
    assert stored.config_digest == second.config_digest != first.config_digest
