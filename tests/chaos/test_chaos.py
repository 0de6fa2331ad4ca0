"""The short chaos run that is part of ``make test``: one seed per scenario, N=20.

``make chaos SEEDS=100 N=200`` is the long run; both print the same figures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.audit import summary
from tests.chaos.chaos import SCENARIOS, run_seeds

pytestmark = pytest.mark.integration
N = 20


def test_short_chaos_run_leaves_no_duplicate_lost_rotation_or_stale_status(
    tmp_path: Path,
) -> None:
    results = run_seeds(list(range(len(SCENARIOS))), N, timeout=90.0, workdir=tmp_path)
    report = summary(results, N)
    print(report)
    assert {r.scenario for r in results} == set(SCENARIOS)
    assert all(r.faults for r in results), report  # faults were injected: the run proves something
    assert sum(r.duplicates for r in results) == 0, report
    assert sum(r.lost_rotations for r in results) == 0, report
    assert sum(r.stale_statuses for r in results) == 0, report
    assert sum(r.key_leaks for r in results) == 0, report
    assert all(r.converged for r in results), report
