"""The AWS wire protocols every API speaks: SigV4, the REST-JSON and JSON 1.1 view shells,
errors, botocore-model validation, strict JSON, signature throttling, internal request
signatures and shared transaction settings.

A plain package (no models); it imports no Functory app: which keys may sign is told to it
(``iam.authentication``).
"""
