"""The selections of the Makefile are real: `make test-fast` collects no browser, subprocess or slow test;
the browser tests are marked; an unmarked test that starts a process fails; `postgresql_only` says why.

Each check runs pytest itself in a child process, as `make` does, and reads what it collected
(tests/conftest.py writes it to ``MES_COLLECTION_REPORT``).
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LEFT_OUT_OF_FAST = {"browser", "subprocess", "slow"}

pytestmark = [pytest.mark.subprocess, pytest.mark.slow]


def makefile_selection(name: str) -> str:
    """The ``-m`` expression a Makefile variable holds (``FAST_SELECTION := not browser and …``)."""
    found = re.search(rf"^{name}\s*:=\s*(.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert found, f"the Makefile has no {name}"
    return found.group(1).strip()


def pytest_run(tmp_path: Path, *arguments: str, sqlite: bool = False) -> tuple[subprocess.CompletedProcess, list[dict]]:
    report = tmp_path / "collected.json"
    environment = {**os.environ, "MES_COLLECTION_REPORT": str(report)}
    if sqlite:
        environment.pop("DATABASE_URL", None)
        environment.update(MES_VAR_DIR=str(tmp_path / "var"), TEST_DATABASE_NAME=str(tmp_path / "test.sqlite3"))
    finished = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rfEs", *arguments],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300, check=False,
    )
    return finished, json.loads(report.read_text()) if report.exists() else []


def imports_playwright(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import) and any(alias.name.split(".")[0] == "playwright" for alias in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "playwright":
            return True
    return False


@pytest.fixture(scope="module")
def fast_collection(tmp_path_factory) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """The fast selection's collection, once for the module: the report lists every test, selected or not,
    with its markers, so the browser check reads the same run."""
    return pytest_run(tmp_path_factory.mktemp("fast"), "--collect-only", "-q", "-m", makefile_selection("FAST_SELECTION"), "tests")


def test_the_fast_selection_collects_no_browser_subprocess_or_slow_test(fast_collection):
    finished, tests = fast_collection

    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    selected = [test for test in tests if test["selected"]]
    left_out = [test for test in tests if not test["selected"]]
    assert len(selected) > 500 and left_out
    assert [test["nodeid"] for test in selected if LEFT_OUT_OF_FAST & set(test["markers"])] == []
    assert [test["nodeid"] for test in selected if test["nodeid"].startswith("tests/browser/")] == []
    assert [test["nodeid"] for test in selected if "browser" in test["fixtures"]] == []
    assert {test["nodeid"] for test in left_out} >= {test["nodeid"] for test in tests if test["nodeid"].startswith("tests/browser/")}


def test_every_test_that_drives_the_browser_carries_the_browser_marker(fast_collection):
    finished, tests = fast_collection  # every collected test, the ones the selection leaves out too

    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    playwright_modules = {str(path) for path in (ROOT / "tests").rglob("test_*.py") if imports_playwright(path)}
    assert playwright_modules, "no test module imports playwright: is this still the browser suite?"
    driving = [test for test in tests if test["path"] in playwright_modules or "browser" in test["fixtures"]]
    assert {Path(test["path"]).parent.name for test in driving} == {"browser"}
    assert [test["nodeid"] for test in driving if "browser" not in test["markers"]] == []


def test_the_sqlite_pass_leaves_out_the_browser_and_subprocess_tests(tmp_path):
    finished, tests = pytest_run(tmp_path, "--collect-only", "-q", "-m", makefile_selection("SQLITE_SELECTION"), "tests", sqlite=True)

    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    selected = [test for test in tests if test["selected"]]
    assert len(selected) > 500
    assert [test["nodeid"] for test in selected if {"browser", "subprocess"} & set(test["markers"])] == []
    assert any("postgresql_only" in test["markers"] for test in selected), "the PostgreSQL-only tests are collected, then skipped"


UNMARKED_PROCESS = '''
import subprocess
import sys

import pytest


def test_starts_a_process_unmarked():
    subprocess.run([sys.executable, "-c", "pass"], check=True)


@pytest.mark.subprocess
def test_starts_a_process_marked():
    subprocess.run([sys.executable, "-c", "pass"], check=True)


def test_starts_nothing():
    assert True


@pytest.mark.postgresql_only(reason="row locks between connections")
def test_needs_postgresql():
    assert True
'''


def probe(tmp_path: Path, source: str, *, sqlite: bool = False) -> subprocess.CompletedProcess:
    """Run one test module outside the tree under the suite's conftest (its hooks and fixtures)."""
    (tmp_path / "conftest.py").write_text("from tests.conftest import *  # noqa: F403\n")
    module = tmp_path / "test_probe.py"
    module.write_text(source)
    finished, _ = pytest_run(tmp_path, "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path), str(module), sqlite=sqlite)
    return finished


def test_a_test_that_starts_a_process_unmarked_fails_and_postgresql_only_is_skipped_on_sqlite_saying_why(tmp_path):
    finished = probe(tmp_path, UNMARKED_PROCESS, sqlite=True)

    assert finished.returncode == 1, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert "1 failed, 2 passed, 1 skipped" in finished.stdout
    assert "test_probe.py::test_starts_a_process_unmarked started a process but is not marked `subprocess`" in finished.stdout
    assert "PostgreSQL only: row locks between connections" in finished.stdout


def test_postgresql_only_without_a_reason_stops_the_run(tmp_path):
    finished = probe(tmp_path, "import pytest\n\n\n@pytest.mark.postgresql_only\ndef test_needs_postgresql():\n    assert True\n")

    assert finished.returncode == pytest.ExitCode.USAGE_ERROR
    assert "test_probe.py::test_needs_postgresql: postgresql_only(reason=...) must say which PostgreSQL feature it needs" in finished.stderr
