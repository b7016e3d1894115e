"""Runtime hooks of a SnapStart function: code that runs before its environment becomes a
template and after each environment is forked from it.

The same names as AWS's ``snapshot_restore_py``: a function registers callables (directly or
as decorators) at import time; before the template is kept, every ``before_snapshot`` hook
runs once (in registration order), and in every environment made from it every
``after_restore`` hook runs (in reverse order, as AWS does) before its first invocation.
"""

_before_snapshot = []
_after_restore = []


def register_before_snapshot(func, *args, **kwargs):
    _before_snapshot.append((func, args, kwargs))
    return func


def register_after_restore(func, *args, **kwargs):
    _after_restore.append((func, args, kwargs))
    return func


def get_before_snapshot():
    return list(_before_snapshot)


def get_after_restore():
    return list(_after_restore)
