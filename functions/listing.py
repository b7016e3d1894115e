"""Reads for the console's function list: search, sort and one page of $LATEST rows."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Page, Paginator

from functions.models import FunctionVersion
from iam.models import Account

SORTS = {
    "name": ("function__name",),
    "runtime": ("runtime", "function__name"),
    "modified": ("last_modified", "function__name"),
}
PAGE_SIZE = 50


@dataclass(frozen=True)
class FunctionListing:
    page: Page[FunctionVersion]
    search: str
    sort: str
    descending: bool


def functions_list_for_account(
    account: Account,
    *,
    search: str = "",
    sort: str = "name",
    descending: bool = False,
    page: int | str = 1,
    page_size: int = PAGE_SIZE,
) -> FunctionListing:
    """One page of ``account``'s functions as their ``$LATEST`` rows (with the function).

    A single indexed query over versions with number 0 plus a count; never one query per row.
    """
    if sort not in SORTS:
        sort = "name"
    ordering = [f"-{field}" if descending else field for field in SORTS[sort]]
    rows = (
        FunctionVersion.objects.filter(function__account=account, number=0)
        .select_related("function")
        .only(
            "runtime",
            "handler",
            "memory_size",
            "code_size",
            "last_modified",
            "description",
            "function__name",
            "function__account_id",
        )
        .order_by(*ordering)
    )
    search = search.strip()
    if search:
        rows = rows.filter(function__name__icontains=search)
    paginator = Paginator(rows, page_size)
    return FunctionListing(
        page=paginator.get_page(page), search=search, sort=sort, descending=descending
    )
