"""The Celery application; broker and options come from Django settings (``CELERY_*``)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections, connection

from console import startup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

app = Celery("functory")


@app.on_configure.connect
def _prepared(**kwargs: object) -> None:
    """A worker or beat started on its own: the data dir and secret key exist before Celery
    first reads the Django settings (which happens right after this signal)."""
    startup.prepare()


app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _database_connections_checked(task: Any = None, **kwargs: object) -> None:
    """Around every task, as Django does around every request: drop a connection that broke
    or outlived CONN_MAX_AGE, keep a healthy one (Celery's own fixup would close it every
    time, which costs a new PostgreSQL connection per asynchronous invocation). A task run
    eagerly (``.apply()``) shares its caller's connection, maybe mid-transaction: left alone."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    if connection.in_atomic_block:
        return
    close_old_connections()
