""".ci/chart-check without a Python >= 3.12: a skip on a workstation, a failure in CI.

The script runs from a scratch copy of the tree (only what it reads before that decision), with
a PATH that offers no Python at all, so the result does not depend on this machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What the script runs before it looks for a Python (bash itself, sha256sum, cut, dirname).
TOOLS = ("bash", "sha256sum", "cut", "dirname")


def _run(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    tree = tmp_path / "tree"
    (tree / ".ci").mkdir(parents=True)
    shutil.copy2(ROOT / ".ci" / "chart-check", tree / ".ci" / "chart-check")
    (tree / ".venv" / "bin").mkdir(parents=True)
    (tree / ".venv" / "bin" / "python").symlink_to("/bin/true")
    requirements = tree / "tests" / "chart" / "helm" / "requirements.txt"
    requirements.parent.mkdir(parents=True)
    shutil.copy2(ROOT / "tests" / "chart" / "helm" / "requirements.txt", requirements)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path / "home")}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [str(bin_dir / "bash"), str(tree / ".ci" / "chart-check")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(os.name != "posix", reason="a bash script")
def test_without_python_312_it_skips_locally(tmp_path: Path) -> None:
    result = _run(tmp_path, ci=None)
    assert result.returncode == 0, result.stderr
    assert "SKIPPED" in result.stdout


@pytest.mark.skipif(os.name != "posix", reason="a bash script")
def test_without_python_312_it_fails_in_ci(tmp_path: Path) -> None:
    result = _run(tmp_path, ci="true")
    assert result.returncode == 1
    assert "FAILED" in result.stderr
    assert "SKIPPED" not in result.stdout
