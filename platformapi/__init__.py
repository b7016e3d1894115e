"""The shell of Functory's own JSON API, on Django REST framework.

The console's scripts and the platform's extensions (``/_functory/api/*``,
``/_functory/async-invocations``) are DRF views: input read by serializers, callers
authenticated by their console session or a SigV4 signature, rates limited per user, errors
answered as ``{"error": {"code", "message", "field"}}``, and an OpenAPI schema generated from
the views (``/_functory/api/schema``). The AWS wire APIs do not pass through here.
"""
