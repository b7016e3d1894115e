"""Event source pollers: they read queues and streams and invoke the mappings' functions.

Where they run: in every server process ``manage.py serve`` starts (each uvicorn worker, on
every replica of the scaled profile), on the process's own event loop, beside the requests,
started and stopped by the ASGI lifespan (``console/asgi.py``); ``FUNCTORY_POLLERS=0`` keeps a
process out. That is where the executor is: a batch is invoked exactly as the Invoke API
invokes (same pool of environments, same concurrency count, logs and metrics), with no hop
through the Celery broker, whose worker is not there on every profile and would block one
of its few slots for every long poll. Blocking broker calls run in a pool of threads.

Which process polls a mapping: one at a time across all hosts, under a lease in the
database (``triggers/leases.py``); see ``runtime.py``. How a queue is read: ``sqs.py``;
how Kinesis and DynamoDB streams are: ``streams.py`` (with ``kinesis.py``, ``dynamodb.py``);
the self-hosted brokers of Amazon MQ mappings (RabbitMQ, NATS, MQTT): ``mq.py`` and
``engines.py``.
"""

from __future__ import annotations

from triggers.pollers.runtime import start, stop

__all__ = ["start", "stop"]
