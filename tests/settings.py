"""Settings for the test suite: the project's settings with a throwaway key.

The environment is still read by ``rectify.settings`` (DATABASE_URL picks SQLite or
PostgreSQL); only what a test run must not take from a developer's shell is fixed here.
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")
os.environ["DEBUG"] = "false"
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
# Files are in memory (STORAGES below); tests/test_object_storage.py points them at a bucket.
os.environ["MEDIA_STORAGE"] = "local"

from rectify.settings import *  # noqa: F403
from rectify.settings import DATABASES

# MD5 makes creating users in tests fast; never used outside tests.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not shared-cache memory: threads in the concurrency tests then take real
    # locks and wait on busy_timeout like two server processes would.
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(os.getenv("TMPDIR", "/tmp"), f"rectify-test-{os.getpid()}.sqlite3")
    }

# WhiteNoise reads STATIC_ROOT at start-up; tests serve nothing from it but it must exist.
STATIC_ROOT = os.path.join(os.getenv("TMPDIR", "/tmp"), "rectify-test-static")
os.makedirs(STATIC_ROOT, exist_ok=True)

# Background tasks run at once, inside the request or the test that enqueues them.
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
