"""Handing asynchronous events to Celery workers, by task name.

The tasks (:mod:`invocations.tasks`) are thin callers of the services that queue them, so
the services name the tasks instead of importing them: the imports run one way (tasks →
services → here). Every process registers the tasks at start (``InvocationsConfig.ready``),
so a name resolves to its task and sending is the task's own ``apply_async``.
"""

from __future__ import annotations

from celery import signature

RUN = "invocations.async_invocation_run"
SWEEP = "invocations.async_invocations_sweep"
DELIVER = "invocations.async_invocation_deliver"
EXPIRE = "invocations.async_invocations_expire"


def enqueue(invocation_id: int, countdown: float | None = None) -> None:
    """Have a worker run the event's next attempt (after ``countdown`` seconds)."""
    task = signature(RUN, args=(invocation_id,))
    if countdown:
        task.apply_async(countdown=countdown)
    else:
        task.delay()


def enqueue_delivery(invocation_id: int) -> None:
    """Have a worker send the records an ended event still owes."""
    signature(DELIVER, args=(invocation_id,)).delay()
