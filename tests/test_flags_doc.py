"""The README's table of ``acm-sync run`` flags is the one place they are documented (the chart
and docs/architecture.md point to it): it names every flag the parser takes, and no other."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from acm_sync.controller.platform.flags import add_run_arguments

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_flags() -> set[str]:
    """The flags the README's table names."""
    section = README.read_text().split("## Running it: `acm-sync run`", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `--")]
    return {flag for row in rows for flag in re.findall(r"`(--[a-z][a-z-]*)", row)}


def _parser_flags() -> set[str]:
    parser = argparse.ArgumentParser()
    add_run_arguments(parser, environ={})
    return {
        option
        for action in parser._actions  # argparse has no public listing of its options
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }


def test_the_readme_lists_every_run_flag_and_no_other() -> None:
    listed, taken = readme_flags(), _parser_flags()
    assert not taken - listed, f"flags the README's table does not list: {sorted(taken - listed)}"
    assert not listed - taken, (
        f"the README lists flags acm-sync run lacks: {sorted(listed - taken)}"
    )
