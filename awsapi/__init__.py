"""The AWS wire protocols every API speaks: errors, botocore-model validation, strict JSON,
signature throttling, internal request signatures and shared transaction settings.

A plain package (no models); it imports no Functory app.
"""
