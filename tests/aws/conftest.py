"""Fixtures: one strict ACM emulator over HTTP per session, reset for every test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from acm_sync.aws.engine import Engine
from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.aws.acm_testkit import fast_settings, isolate_aws_env


@pytest.fixture(scope="session")
def acm_server() -> Iterator[AcmEmulator]:
    emulator = AcmEmulator()
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_aws_env(monkeypatch)


@pytest.fixture
def acm(acm_server: AcmEmulator, aws_env: None) -> AcmEmulator:
    acm_server.reset()
    return acm_server


@pytest.fixture
def make_engine(acm: AcmEmulator) -> Iterator[Callable[..., Engine]]:
    engines: list[Engine] = []

    def factory(**overrides: Any) -> Engine:
        engine = Engine(fast_settings(acm.url, **overrides))
        engines.append(engine)
        return engine

    yield factory
    for engine in engines:
        engine.close()


@pytest.fixture
def engine(make_engine: Callable[..., Engine]) -> Engine:
    return make_engine()
