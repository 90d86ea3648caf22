"""Settings for the bench's gunicorn: the app's own, from the same environment, with a
URLconf that adds a hello-world page to compare the ledger's requests/s with."""

from rectify.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
