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
