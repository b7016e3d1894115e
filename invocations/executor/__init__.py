"""The executor: execution environments, their pool, sandbox backends and the Runtime API.

A plain library with no Django imports, so it can run inside the web server (embedded
profile) or as a per-host daemon that web and Celery processes reach over a local socket.
"""
