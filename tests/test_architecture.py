"""The arrows between the rooms (ARCHITECTURE.md) are checked, not hoped for: import-linter's contracts
in pyproject.toml run here, and a broken rule fails the suite naming the offending import."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.subprocess

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["common", "mes", "erp_sync", "shopfloor", "plant", "simulators"]


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache", "--config", str(cwd / "pyproject.toml")],
        cwd=cwd, capture_output=True, text=True, timeout=300, env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
    )


def test_every_import_follows_the_layers():
    checked = _lint_imports(ROOT)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Contracts: 6 kept, 0 broken." in checked.stdout


def test_an_import_against_the_layers_fails_naming_it(tmp_path):
    """The contracts bite: the domain importing the dispatcher (a copy of the tree) is refused by name."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "migrations"))
    confirmations = tmp_path / "mes" / "services" / "confirmations.py"
    confirmations.write_text(confirmations.read_text() + "\nfrom erp_sync.dispatcher import dispatch_until_idle  # noqa\n")

    checked = _lint_imports(tmp_path)

    assert checked.returncode == 1
    assert "mes.services.confirmations -> erp_sync.dispatcher" in checked.stdout
