"""The address a client calls for a function URL (``FunctionUrl`` in the API's answers).

One function builds it so the control-plane API, the console and the URL server agree:

- host form, when the operator sets ``FUNCTORY_URL_DOMAIN`` (a wildcard DNS name):
  ``{FUNCTORY_URL_SCHEME}://{url_id}.lambda-url.{region}.{FUNCTORY_URL_DOMAIN}/``, AWS's shape;
- path form otherwise, on the server that answered the API request, so it works with no DNS:
  ``{scheme}://{host}/lambda-url/{url_id}/``; the function sees the rest of the path as
  ``rawPath`` (``/lambda-url/<id>/x/y`` → ``/x/y``).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from functions import arns
from functions.models import FunctionUrlConfig

# The path prefix of the path form; the URL server routes on it.
PATH_PREFIX = "/lambda-url/"


def function_url(config: FunctionUrlConfig, request: HttpRequest) -> str:
    """The URL of ``config`` as a client reaches it, for an answer to ``request``."""
    domain = settings.FUNCTORY_URL_DOMAIN
    if domain:
        scheme = settings.FUNCTORY_URL_SCHEME or "https"
        return f"{scheme}://{config.url_id}.lambda-url.{arns.region()}.{domain}/"
    return f"{request.scheme}://{request.get_host()}{PATH_PREFIX}{config.url_id}/"
