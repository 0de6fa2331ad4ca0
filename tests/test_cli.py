"""The console script exists and dispatches."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ACM_SYNC = Path(sys.executable).with_name("acm-sync")


def test_help_lists_every_subcommand() -> None:
    out = subprocess.run([ACM_SYNC, "--help"], capture_output=True, text=True, check=True).stdout
    for name in ("check", "run", "playground", "demo"):
        assert name in out


def test_no_subcommand_is_a_usage_error() -> None:
    result = subprocess.run([ACM_SYNC], capture_output=True, text=True, check=False)
    assert result.returncode == 2
