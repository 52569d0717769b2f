"""The demo plant reads its machines the way the simulated PLCs of ``make run`` lay out their registers."""

from __future__ import annotations

import pytest

from plant.management.commands.seed_demo import (
    DEMO_MACHINES,
    DEMO_MODBUS_PORT,
    demo_machine_mapping,
)
from simulators.devices.client import modbus_mapping


@pytest.mark.parametrize("unit_id", range(1, len(DEMO_MACHINES) + 1))
def test_the_demo_maps_each_machine_as_the_simulator_speaks(unit_id):
    assert demo_machine_mapping(unit_id) == modbus_mapping(DEMO_MODBUS_PORT, unit_id)
