"""`acm-sync demo`, the README's main command, runs end to end and says what it did."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ACM_SYNC = Path(sys.executable).with_name("acm-sync")
pytestmark = pytest.mark.integration


def test_demo_walks_through_every_step_and_exits_zero(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ACM_SYNC_"))}
    result = subprocess.run(
        [str(ACM_SYNC), "demo", "--timeout", "30"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # the CRDs are found from the installed checkout, not the cwd
        env=env,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    for expected in (
        "[1] A CA-signed TLS Secret",
        "Ready=True (Synced)",
        "reimported: same ARNs",
        "owned by the Secret",
        "Ingress 'shop' carries alb.ingress.kubernetes.io/certificate-arn: arn:aws:acm:us-east-1:",
        "AcmTarget edge: Ready, account 222233334444",
        "invisible to the operator's account",
        "Targets 2/2",
        "reason KeyMismatch",
        "no AWS call was made",
        "deleted from ACM",
        "Every step did what it said.",
    ):
        assert expected in out, expected
    assert out.count("deleted from ACM") == 2
    assert "PRIVATE KEY" not in out + result.stderr
