"""The IAM and STS APIs (query protocol, ``POST /`` with a form body; see
``console.views.home``): ``dispatch`` answers both, by the signature's service."""

from __future__ import annotations

from awsapi.query import QueryView
from iam.api import details, identities, policies, sts
from iam.api.access import admin_only
from iam.authentication import query_api

IAM_OPERATIONS: dict[str, QueryView] = {
    name: admin_only(name, view)
    for name, view in {**identities.OPERATIONS, **policies.OPERATIONS, **details.OPERATIONS}.items()
}
STS_OPERATIONS: dict[str, QueryView] = dict(sts.OPERATIONS)

dispatch = query_api({"iam": IAM_OPERATIONS, "sts": STS_OPERATIONS})
