"""The scale benchmark runs and prints every figure issue 13 asks for (not the numbers).

``bench/bench_scale.py --quick`` does the whole procedure at a small N (seeding, a warm
restart, rotations idle and during a backlog, new imports beside foreign certificates, a
sweep, a cold sync), so a change that breaks the benchmark fails here rather than on the day
someone needs the figures.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_scale.py"

# Issue 13's figures, each printed beside its target.
FIGURES = (
    "rss_bare_mb",
    "rss_after_warm_restart_mb",
    "rss_per_object_kb",
    "rss_peak_mb",
    "warm_restart_s",
    "warm_restart_cpu_s",
    "warm_restart_kube_requests",
    "warm_restart_per_object_gets",
    "warm_restart_aws_calls",
    "aws_calls_per_new_import_foreign",
    "rotation_idle_p50_ms",
    "rotation_idle_p99_ms",
    "rotation_backlog_p50_ms",
    "rotation_backlog_p99_ms",
    "cold_sync_s",
    "cold_sync_aws_calls_per_import",
)


def test_the_quick_scale_benchmark_prints_every_figure_beside_its_target() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if line.startswith("  ")}
    for name in FIGURES:
        assert name in lines, f"{name} not printed:\n{done.stdout}"
        # A number (or nan when a sample could not be taken), then the target where it has one.
        assert re.match(rf"\s+{name}\s+(-?\d+\.\d|nan)", lines[name]), lines[name]
    assert "target < 80 MB" in lines["rss_bare_mb"]
    assert "target <= 1.1 x floor" in lines["cold_sync_s"]
