"""The life cycle of a simulator run as a child process with its output in a file (ERP and machines alike)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any


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
