"""No module of the operator or the test bed grows past 400 lines (issue 12).

A module that long holds more than one thing; split it by content into modules named for what
they hold. The check counts lines as an editor numbers them (a last line without a newline
counts too) and lists every offender at once.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (ROOT / "operator" / "acm_sync", ROOT / "testbed" / "acm_sync_testbed")
LIMIT = 400

# Empty: every module is under the limit. Should one ever have to wait for its split, list it
# here; test_allowlist_holds_only_current_offenders fails once it is split or gone.
ALLOWED_OVER_LIMIT: frozenset[str] = frozenset()


def line_counts(roots: tuple[Path, ...], base: Path) -> dict[str, int]:
    """Lines of every Python module under ``roots``, keyed by path relative to ``base``."""
    counts = {}
    for root in roots:
        for module in sorted(root.rglob("*.py")):
            with module.open("rb") as handle:
                counts[module.relative_to(base).as_posix()] = sum(1 for _ in handle)
    return counts


def over_limit(counts: dict[str, int]) -> dict[str, int]:
    """The modules longer than :data:`LIMIT` lines."""
    return {path: lines for path, lines in counts.items() if lines > LIMIT}


def test_no_module_over_the_limit() -> None:
    """Every module of both packages is at most 400 lines, the allowlisted ones aside."""
    offenders = {
        path: lines
        for path, lines in over_limit(line_counts(PACKAGES, ROOT)).items()
        if path not in ALLOWED_OVER_LIMIT
    }
    listing = "\n".join(f"  {path}: {lines} lines" for path, lines in sorted(offenders.items()))
    assert not offenders, f"modules over {LIMIT} lines (split them by content):\n{listing}"


def test_allowlist_holds_only_current_offenders() -> None:
    """An allowlisted module that was split (or removed) must leave the allowlist."""
    counts = line_counts(PACKAGES, ROOT)
    stale = sorted(path for path in ALLOWED_OVER_LIMIT if counts.get(path, 0) <= LIMIT)
    assert not stale, f"no longer over {LIMIT} lines, remove from ALLOWED_OVER_LIMIT: {stale}"


def test_counts_every_line(tmp_path: Path) -> None:
    """400 lines pass and 401 fail, with or without a newline at the end of the last line."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "at_limit.py").write_text("x = 1\n" * LIMIT)
    (package / "sub" / "over.py").write_text("x = 1\n" * LIMIT + "y = 2\n")
    (package / "no_final_newline.py").write_text("x = 1\n" * LIMIT + "y = 2")
    counts = line_counts((package,), tmp_path)
    assert over_limit(counts) == {"pkg/sub/over.py": 401, "pkg/no_final_newline.py": 401}
