"""What `acm-sync playground` prints before it is ready: no kopf thread warning, full hints."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from acm_sync.core.keys import ACM_KEY_ALGORITHMS

pytestmark = pytest.mark.integration

ACM_SYNC = Path(sys.executable).with_name("acm-sync")
READY = "acm-sync playground is ready"


def test_playground_output_is_clean_and_lists_every_key_type(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [ACM_SYNC, "playground", "--port", "0", "--acm-port", "0", "--kubeconfig", "pg.kc"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        # The operator starts before the ready line, so its start-up warnings come before it.
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith(READY) or len(lines) > 200:
                break
        assert READY in lines, "\n".join(lines)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            rest, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            rest, _ = process.communicate(timeout=5)
    output = "\n".join(lines) + "\n" + rest
    assert "Operator: running in this process" in output
    assert "OS signals are ignored" not in output
    includes = next(line for line in lines if "--includes keyTypes=" in line)
    assert includes.split("keyTypes=")[1].split(",") == list(ACM_KEY_ALGORITHMS)
    assert process.returncode == 0
