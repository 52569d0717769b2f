"""``python manage.py run_collector``: read the machines and turn their counts and states into records, until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from shopfloor.collector import Collector, CollectorOptions


class Command(BaseCommand):
    help = (
        "Collect from every enabled device mapping (or those of --work-center, to shard across processes): "
        "counts become confirmations per window, signals become run/idle/down/unknown time. Stops on SIGTERM or Ctrl-C."
    )
    # Skipped, as in run_plant: `make run` has just run them (through migrate); here they only delay the start.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--work-center", dest="work_centers", action="append", default=[], metavar="CODE",
            help="collect only from equipment of this work center; repeat for more (default: all)",
        )
        parser.add_argument(
            "--window-seconds", type=float, default=None,
            help="confirm counts once per window of this many seconds (default COLLECTOR_CONFIRM_WINDOW_SECONDS, 60)",
        )
        parser.add_argument(
            "--unanswered-after", type=float, default=None, metavar="SECONDS",
            help="mark a silent machine unknown after this long, at least 3 poll intervals "
            "(default COLLECTOR_UNANSWERED_AFTER_SECONDS, 5)",
        )
        parser.add_argument(
            "--idle-after", type=float, default=None, metavar="SECONDS",
            help="a machine without a running signal is idle after this long without a part "
            "(default COLLECTOR_IDLE_AFTER_SECONDS, 60)",
        )
        parser.add_argument(
            "--reload-seconds", type=float, default=None,
            help="look for added or changed mappings this often (default COLLECTOR_RELOAD_SECONDS, 30)",
        )

        parser.add_argument(
            "--stats-seconds", type=float, default=None,
            help="log reads/s and read lag percentiles this often (default COLLECTOR_STATS_SECONDS, 60)",
        )
        parser.add_argument(
            "--stats-file", type=Path, default=None, metavar="PATH",
            help="keep the latest cumulative figures (reads, failures, read lag histogram, CPU) in this JSON "
            "file, rewritten every --stats-seconds (default: none)",
        )

    def handle(
        self, *args, work_centers, window_seconds, unanswered_after, idle_after, reload_seconds, stats_seconds,
        stats_file, **options,
    ):
        try:
            collector_options = CollectorOptions.from_settings(
                work_centers=tuple(work_centers),
                window_seconds=window_seconds,
                unanswered_after_s=unanswered_after,
                idle_after_s=idle_after,
                reload_s=reload_seconds,
                stats_s=stats_seconds,
                stats_file=stats_file,
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        asyncio.run(_collect(collector_options))


async def _collect(options: CollectorOptions) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await Collector(options).run(stop)
