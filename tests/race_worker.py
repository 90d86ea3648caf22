"""One side of the two-process race in test_concurrency: load the item, wait for the start
signal, act, print the outcome. Run as ``python -m tests.race_worker PK ACTION USER GOFILE``
with DATABASE_URL pointing at the test database."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def main(pk: str, action: str, username: str, gofile: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from ledger import workflow
    from ledger.models import Item, User

    user = User.objects.get(username=username)
    item = Item.objects.get(pk=pk)
    print("ready", flush=True)
    deadline = time.monotonic() + 30
    while not Path(gofile).exists():
        if time.monotonic() > deadline:
            raise SystemExit("no start signal")
        time.sleep(0.001)
    try:
        if action == "approve":
            workflow.approve(item, by=user)
        else:
            workflow.return_request(item, by=user, reason="再核实")
    except workflow.Stale:
        print("stale", flush=True)
    else:
        print("ok", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
