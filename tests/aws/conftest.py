"""Fixtures: one strict ACM emulator over HTTP per session, reset for every test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from acm_sync.aws.engine import Engine
from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.aws.acm_testkit import fast_settings


@pytest.fixture(scope="session")
def acm_server() -> Iterator[AcmEmulator]:
    emulator = AcmEmulator()
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials; never the user's profile, config or endpoint."""
    for name in (
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_ACM",
        "AWS_SESSION_TOKEN",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/acm-sync-test-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/acm-sync-test-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


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
