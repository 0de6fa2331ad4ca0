"""docs/architecture.md stays a true map: every operator module named, one sync in six files."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "architecture.md").read_text()
PACKAGE = ROOT / "operator" / "acm_sync"


def test_every_operator_module_is_on_the_map() -> None:
    """A module added, renamed or split without a line in the layer map fails here."""
    modules = sorted(
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    )
    # The layer map lists modules by file name under their package's heading.
    missing = [m for m in modules if not re.search(rf"\b{re.escape(Path(m).name)}\b", DOC)]
    assert not missing, f"modules not described in docs/architecture.md: {missing}"


def test_one_sync_is_followed_in_at_most_six_existing_files() -> None:
    section = DOC.split("## One sync, and a restart", 1)[1].split("\n## ", 1)[0]
    steps = re.findall(r"^\| (\d+) \| `([^`]+)` \|", section, flags=re.MULTILINE)
    assert steps, "the table of the sync path is missing"
    assert len(steps) <= 6
    assert [int(n) for n, _ in steps] == list(range(1, len(steps) + 1))
    for _, path in steps:
        assert (PACKAGE / path).is_file(), f"{path} (named in the sync path) does not exist"
