"""Settings for the in-process test suite: the real settings with a fast password hasher.

PBKDF2's hundreds of thousands of rounds are the point in production and only cost time in
tests, where every case creates and logs in users. Live-server tests run ``serve`` with the
real settings.
"""

from console import startup

# The test run's entry point: pytest-django reads these settings before any conftest runs.
startup.prepare()

from console.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    import os
    import tempfile

    # A file, as in production, not Django's shared-cache in-memory database: there a
    # transaction that finds another thread's open (a background log or metric writer)
    # fails at once with "database table is locked"; in a file with WAL it waits its turn.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"functory-test-{os.getpid()}.sqlite3")
    }
