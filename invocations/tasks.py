"""Celery tasks of the data plane: thin callers of :mod:`invocations.asynchronous`."""

from __future__ import annotations

from celery import shared_task

from invocations import asynchronous, destinations, taskqueue


@shared_task(name=taskqueue.RUN)
def async_invocation_run(invocation_id: int) -> str:
    """Run one attempt of an asynchronous invocation (the row's claim makes it idempotent)."""
    return asynchronous.async_invocation_run(invocation_id)


@shared_task(name=taskqueue.SWEEP)
def async_invocations_sweep() -> int:
    """Re-enqueue events whose claim expired or whose message was lost (periodic)."""
    return asynchronous.async_invocations_sweep()


@shared_task(name=taskqueue.DELIVER)
def async_invocation_deliver(invocation_id: int) -> int:
    """Send the dead-letter/destination records an ended event still owes (sweeper-queued)."""
    return destinations.deliveries_send(invocation_id)


@shared_task(name=taskqueue.EXPIRE)
def async_invocations_expire() -> int:
    """Delete ended events past FUNCTORY_ASYNC_RETENTION_SECONDS (periodic)."""
    return asynchronous.async_invocations_expire()
