"""The IAM and STS APIs (query protocol, ``POST /`` with a form body; see
``console.views.home``): ``dispatch`` answers both, by the signature's service."""

from __future__ import annotations

from awsapi.query import QueryView
from iam.api import details, identities, policies, sts
from iam.authentication import query_api

# Each call is authorized by the query shell against the caller's policies (iam.access).
IAM_OPERATIONS: dict[str, QueryView] = {
    **identities.OPERATIONS,
    **policies.OPERATIONS,
    **details.OPERATIONS,
}
STS_OPERATIONS: dict[str, QueryView] = dict(sts.OPERATIONS)

dispatch = query_api({"iam": IAM_OPERATIONS, "sts": STS_OPERATIONS})
