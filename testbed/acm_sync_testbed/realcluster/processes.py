"""A started program of the real cluster: its log file, liveness and a bounded stop."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path


class ProcessFailed(RuntimeError):
    """A cluster program exited or never became ready; the message carries its log's tail."""


class Supervised:
    """One program, started in its own process group and logging to ``log``."""

    def __init__(self, name: str, argv: list[str], log: Path, env: dict[str, str] | None = None):
        self.name = name
        self.argv = argv
        self.log = log
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Supervised:
        """Start the program; its output goes to the log file."""
        with self.log.open("ab") as out:
            # A process group of its own: stop() then reaches anything it spawned, and a
            # Ctrl-C meant for the playground reaches the playground, which stops it in order.
            self.process = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,
            )
        return self

    def log_tail(self, lines: int = 25) -> str:
        """The end of the program's log, for error messages."""
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def check(self) -> None:
        """Raise ProcessFailed if the program has exited."""
        if self.process is not None and self.process.poll() is not None:
            raise ProcessFailed(
                f"{self.name} exited with {self.process.returncode}; the end of {self.log}:\n"
                f"{self.log_tail()}"
            )

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL what is left after ``timeout`` seconds."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        except ProcessLookupError:
            pass
