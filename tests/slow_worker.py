"""``manage.py run_worker`` whose jobs take SLOW_STEP seconds longer for each unit of progress:
the real tasks, slowed enough for a test to kill the worker in the middle of one
(tests/test_worker_process.py). Arguments are run_worker's."""

from __future__ import annotations

import os
import sys
import time

import django

django.setup()

from django.core.management import call_command  # noqa: E402

from ledger import jobs  # noqa: E402

STEP = float(os.environ["SLOW_STEP"])
advance = jobs.Progress.advance


def slowly(self, by: int = 1) -> None:
    advance(self, by)
    self.flush()  # the step is seen done, then the work goes on slowly
    time.sleep(STEP * by)


jobs.Progress.advance = slowly
call_command("run_worker", *sys.argv[1:])
