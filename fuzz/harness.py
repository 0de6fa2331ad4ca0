"""What every fuzz target shares: the properties checked on each input, and the entry point.

The properties (issue 19, item 4): no exception escapes other than the ones the parser
documents, and no input takes over a second. A target module defines ``test_one(data)``,
``DOCUMENTED`` (the exceptions its parser may raise) and ``seeds()`` (a starting corpus), and
ends with ``main(__name__)``. ``fuzz/run.py`` runs the targets and reports on them.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import atheris

ROOT = Path(__file__).resolve().parents[1]
# The targets build their seeds with the test certificate kit: the tests package at the root.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MAX_SECONDS = 1.0
# fuzz/run.py reads the slowest input from here (libFuzzer ends the process with exit(), so no
# Python exit hook could report it).
STATS_ENV = "ACM_SYNC_FUZZ_STATS"


class TooSlow(AssertionError):
    """An input took longer than MAX_SECONDS."""


def instrumented() -> contextlib.AbstractContextManager[Any]:
    """Coverage feedback for the modules imported inside (the parser under test)."""
    context: contextlib.AbstractContextManager[Any] = atheris.instrument_imports(
        include=["acm_sync"]
    )
    return context


def checked(
    test_one: Callable[[bytes], object], documented: tuple[type[BaseException], ...]
) -> Callable[[bytes], None]:
    """``test_one`` with the properties: documented exceptions only, under a second."""
    slowest = 0.0
    stats = os.environ.get(STATS_ENV)

    def one(data: bytes) -> None:
        nonlocal slowest
        start = time.perf_counter()
        with contextlib.suppress(*documented):
            test_one(data)
        took = time.perf_counter() - start
        if took > slowest:
            slowest = took
            if stats:
                Path(stats).write_text(f"{took:.6f} {len(data)}\n")
        if took > MAX_SECONDS:
            raise TooSlow(f"an input of {len(data)} bytes took {took:.2f} s")

    return one


def write_seeds(directory: Path, seeds: Iterator[bytes] | list[bytes]) -> None:
    """The starting corpus, one file per seed."""
    directory.mkdir(parents=True, exist_ok=True)
    for number, seed in enumerate(seeds):
        (directory / f"seed-{number:03d}").write_bytes(seed)


def main(
    name: str,
    test_one: Callable[[bytes], object],
    documented: tuple[type[BaseException], ...],
) -> None:
    """Fuzz ``test_one`` with libFuzzer's command line (``sys.argv``) when run as a script."""
    if name != "__main__":
        return
    atheris.Setup(sys.argv, checked(test_one, documented))
    atheris.Fuzz()
