"""ListFunctions' and ListVersionsByFunction's selectors (in-process): pages in name and
version order, a marker that picks up where the last page ended, the caller's account only."""

from __future__ import annotations

import pytest
from django.utils import timezone

from awsapi.errors import InvalidParameterValue
from functions import selectors
from functions.models import Function, FunctionVersion
from functions.tests.factories import function_row
from iam import services as iam_services
from iam.models import Account

pytestmark = pytest.mark.django_db


def _publish(function: Function, number: int) -> None:
    latest = selectors.latest_version(function)
    FunctionVersion.objects.create(
        function=function,
        number=number,
        runtime=latest.runtime,
        handler=latest.handler,
        role=latest.role,
        code=latest.code,
        code_sha256="x",
        code_size=1,
        config_digest=f"d{number}",
        last_modified=timezone.now(),
    )


def _names(page: list[FunctionVersion]) -> list[tuple[str, int]]:
    return [(v.function.name, v.number) for v in page]


@pytest.fixture
def account() -> Account:
    return iam_services.account_get_or_create("111111111111")


def test_functions_come_in_pages_by_name_with_a_marker_for_the_next(account: Account) -> None:
    for name in ("c", "a", "b"):
        function_row(account, name)
    function_row(iam_services.account_get_or_create("222222222222"), "theirs")
    page, marker = selectors.function_list(account, marker=None, max_items=2)
    assert (_names(page), marker is not None) == ([("a", 0), ("b", 0)], True)
    page, marker = selectors.function_list(account, marker=marker, max_items=2)
    assert (_names(page), marker) == ([("c", 0)], None)


def test_all_versions_are_listed_by_name_then_number(account: Account) -> None:
    _publish(function_row(account, "a"), 1)
    function_row(account, "b")
    seen: list[tuple[str, int]] = []
    marker: str | None = None
    while True:
        page, marker = selectors.function_list(
            account, marker=marker, max_items=1, all_versions=True
        )
        seen += _names(page)
        if marker is None:
            break
    assert seen == [("a", 0), ("a", 1), ("b", 0)]


def test_versions_of_a_function_come_in_pages_by_number(account: Account) -> None:
    function = function_row(account, "a")
    for number in (1, 2):
        _publish(function, number)
    page, marker = selectors.version_list(function, marker=None, max_items=2)
    assert [v.number for v in page] == [0, 1]
    page, marker = selectors.version_list(function, marker=marker, max_items=2)
    assert ([v.number for v in page], marker) == ([2], None)


def test_a_marker_of_another_list_is_refused(account: Account) -> None:
    function = function_row(account, "a")
    _publish(function, 1)
    _, versions_marker = selectors.version_list(function, marker=None, max_items=1)
    with pytest.raises(InvalidParameterValue):
        selectors.function_list(account, marker=versions_marker, max_items=1)


def test_a_listed_configuration_is_rendered_once_per_write(account: Account) -> None:
    from functions import render
    from functions.models import new_revision_id

    function_row(account, "a")
    page, _ = selectors.function_list(account, marker=None, max_items=10)
    (first,) = render.listed_configurations(page)
    page, _ = selectors.function_list(account, marker=None, max_items=10)
    assert render.listed_configurations(page)[0] is first  # not read or rendered again
    latest = selectors.latest_version(Function.objects.get(account=account, name="a"))
    latest.description = "changed"
    latest.revision_id = new_revision_id()
    latest.last_modified = timezone.now()
    latest.save()
    page, _ = selectors.function_list(account, marker=None, max_items=10)
    (second,) = render.listed_configurations(page)
    assert second["Description"] == "changed"
    assert second["RevisionId"] == latest.revision_id != first["RevisionId"]
