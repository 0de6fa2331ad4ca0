"""botocore's ACM region table is built once per process, however many threads ask at once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from acm_sync.aws import region_table

THREADS = 16  # the reconcile pool that met the empty cache at start-up


def test_sixteen_threads_meeting_the_empty_table_build_it_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_build = region_table._build
    builds = 0
    count_lock = threading.Lock()

    def counting_build() -> frozenset[str]:
        nonlocal builds
        with count_lock:
            builds += 1
        time.sleep(0.05)  # parsing endpoints.json takes a while: every thread arrives meanwhile
        return real_build()

    monkeypatch.setattr(region_table, "_table", None)
    monkeypatch.setattr(region_table, "_build", counting_build)
    start = threading.Barrier(THREADS)

    def ask() -> frozenset[str]:
        start.wait()
        return region_table.acm_regions()

    with ThreadPoolExecutor(THREADS) as pool:
        tables = list(pool.map(lambda _: ask(), range(THREADS)))

    assert builds == 1
    assert all(t is tables[0] for t in tables)
    assert "us-east-1" in tables[0]
    region_table.acm_regions()
    assert builds == 1
