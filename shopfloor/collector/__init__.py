"""The device collector: a long-running asyncio service that reads the machines and records what it read.

Run it with ``python manage.py run_collector [--work-center CODE …]``; what it makes of the
readings (confirmations, unassigned production, state intervals, exceptions) is decided by
the services in ``shopfloor.production``.
"""

from shopfloor.collector.collector import Collector, CollectorOptions, DeviceReader, counter_moduli
from shopfloor.collector.database import Database

__all__ = ["Collector", "CollectorOptions", "Database", "DeviceReader", "counter_moduli"]
