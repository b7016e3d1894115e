"""Settings for the in-process test suite: the real settings with a fast password hasher.

PBKDF2's hundreds of thousands of rounds are the point in production and only cost time in
tests, where every case creates and logs in users. Live-server tests run ``serve`` with the
real settings.
"""

from console.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
