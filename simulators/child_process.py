"""The life cycle of a simulator run as a child process with its output in a file (ERP and machines alike)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: The simulators run as ``manage.py <command>`` of this checkout.
MANAGE_PY = Path(__file__).resolve().parents[1] / "manage.py"


def child_start(
    *,
    arguments: list[str],
    ready_marker: str,
    name: str,
    error: type[Exception],
    ready_timeout: float = 30.0,
    python: str = sys.executable,
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen, Path, dict[str, Any]]:
    """Start ``manage.py <arguments>`` with its output in a file; return once it prints ``<ready_marker> {json}``.

    Returns the process, its output file and what the ready line said (the ports it chose).
    Raises ``error`` (naming ``name``, with what the child printed) if it exits first or is
    not ready within ``ready_timeout`` seconds; it is killed then, and its file removed.
    """
    ready_line = re.compile(re.escape(ready_marker) + r" (\{.*\})")
    # A file, not a pipe: nobody drains a pipe, and a full one (a long ledger printed at exit) would block the child.
    output = tempfile.NamedTemporaryFile(prefix=f"{name.replace(' ', '-')}-", suffix=".log", delete=False)  # noqa: SIM115
    output_path = Path(output.name)
    process = subprocess.Popen(
        [python, str(MANAGE_PY), *arguments],
        stdout=output,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
        cwd=str(MANAGE_PY.parent),
    )
    output.close()
    deadline = time.monotonic() + ready_timeout
    while True:
        text = output_path.read_text(encoding="utf-8", errors="replace")
        match = ready_line.search(text)
        if match:
            return process, output_path, json.loads(match.group(1))
        if process.poll() is not None:
            output_path.unlink(missing_ok=True)
            raise error(f"the {name} exited with {process.returncode}:\n{text}")
        if time.monotonic() > deadline:
            process.kill()
            process.wait(timeout=10)
            output_path.unlink(missing_ok=True)
            raise error(f"the {name} was not ready after {ready_timeout} s:\n{text}")
        time.sleep(0.05)


class ChildProcess:
    """``output``, ``stop``, ``kill`` and ``with`` for a child that prints into ``output_path``.

    The class using it provides ``process``, ``output_path``, ``control`` (with ``close()``)
    and ``_final_output`` (``None`` until the child has ended).
    """

    process: subprocess.Popen
    output_path: Path
    control: Any
    _final_output: str | None

    def output(self) -> str:
        """Everything the process printed so far (after ``stop``: all of it)."""
        if self._final_output is not None:
            return self._final_output
        return self.output_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, *, timeout: float = 10.0) -> str:
        """SIGTERM, wait (SIGKILL after ``timeout``), and return everything the process printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        return self._finish()

    def kill(self) -> str:
        """SIGKILL: nothing is printed on the way out."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        return self._finish()

    def _finish(self) -> str:
        self.control.close()
        if self._final_output is None:
            self._final_output = self.output_path.read_text(encoding="utf-8", errors="replace")
            self.output_path.unlink(missing_ok=True)
        return self._final_output

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
