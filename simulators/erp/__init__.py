"""A simulated ERP (SAP S/4HANA OData, ERPNext, Odoo, Kingdee K/3 Cloud, Yonyou U8+ OpenAPI, a B2MML receiver) for tests, benchmarks and the demo.

Run it with ``python manage.py erp_simulator --flavor sap|erpnext|odoo|kingdee|u8|b2mml --port N``; drive it
from Python with ``SimulatorControl`` or start it as a child process with
``start_simulator``. The protocol of each ERP lives in its own module (``sap``,
``erpnext``, ``odoo``, ``kingdee``, ``u8``, ``b2mml``); ``server`` owns sockets, faults and the control API; ``ledger``
records what the simulated ERP committed. Nothing here imports Django.
"""

from simulators.erp.client import (
    SimulatorControl,
    SimulatorError,
    SimulatorProcess,
    start_simulator,
)
from simulators.erp.server import FLAVORS, Simulator, SimulatorConfig

__all__ = [
    "FLAVORS",
    "Simulator",
    "SimulatorConfig",
    "SimulatorControl",
    "SimulatorError",
    "SimulatorProcess",
    "start_simulator",
]
