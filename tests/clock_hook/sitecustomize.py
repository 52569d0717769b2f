"""Imported by Python at start-up (``site``) in a process a test starts with
``tests.conftest.clock_environment()`` under ``MES_TEST_CLOCK``: it keeps the test's clock, handed
down as the offset from the real one in seconds. Not a package: only that environment's
``PYTHONPATH`` names this folder."""

import datetime
import os

if os.environ.get("MES_TEST_CLOCK_OFFSET"):
    import time_machine

    time_machine.travel(
        datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=float(os.environ["MES_TEST_CLOCK_OFFSET"])), tick=True
    ).start()
