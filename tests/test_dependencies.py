"""Dependencies: no minimum that allows a release with a known advisory, and the Docker image built from
a lock (requirements.lock, `make lock`) that pins every runtime dependency within pyproject.toml's ranges."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def _requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {canonicalize_name(requirement.name): requirement for requirement in map(Requirement, project["dependencies"])}


def _locked() -> dict[str, tuple[str, int]]:
    """name → (pinned version, number of hashes) of every package in requirements.lock."""
    text = (ROOT / "requirements.lock").read_text()
    locked = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = re.match(r"([A-Za-z0-9._-]+)==([^\s\\]+)", block)
        if match:
            locked[canonicalize_name(match.group(1))] = (match.group(2), block.count("--hash=sha256:"))
    return locked


@pytest.mark.parametrize(
    ("package", "vulnerable"),
    [
        ("django", "5.2.19"),  # every 5.2 patch fixes advisories: the newest one is the minimum
        ("djangorestframework", "3.15.1"),  # CVE-2024-21520, XSS in the browsable API
        ("gunicorn", "22.0.0"),  # CVE-2024-6827, request smuggling
        ("requests", "2.32.3"),  # CVE-2024-47081, .netrc credentials leak
    ],
)
def test_no_minimum_allows_a_release_with_a_known_advisory(package, vulnerable):
    assert not _requirements()[package].specifier.contains(vulnerable)


def test_the_lock_pins_every_runtime_dependency_within_its_range_with_hashes():
    locked = _locked()

    outside = {
        name: locked.get(name, ("missing", 0))[0]
        for name, requirement in _requirements().items()
        if name not in locked or not requirement.specifier.contains(locked[name][0])
    }
    assert outside == {}, "run `make lock` after changing the dependencies"
    assert [name for name, (_version, hashes) in locked.items() if hashes == 0] == []


def test_the_docker_image_installs_exactly_the_lock():
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert "COPY requirements.lock ./" in dockerfile
    assert "pip install --require-hashes --no-deps -r requirements.lock" in dockerfile
    assert "pyproject.toml" not in re.sub(r"#.*", "", dockerfile)  # nothing resolved at build time
