"""The botocore service models our AWS APIs are driven by (a leaf: it imports no app code).

Validation checks input against them and the error renderer reads error shapes from them;
both load the models here so neither has to import the other.
"""

from __future__ import annotations

import functools

import botocore.session
from botocore.model import ServiceModel


@functools.cache
def service_model(service: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service)
