"""Fixtures for the strict ACM emulator's own tests: one server per session, boto3 clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from acm_sync_testbed.emulators.acm.server import AcmEmulator


@pytest.fixture(scope="session")
def emulator() -> Iterator[AcmEmulator]:
    server = AcmEmulator()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def acm(emulator: AcmEmulator, monkeypatch: pytest.MonkeyPatch) -> AcmEmulator:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/acm-sync-test-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/acm-sync-test-credentials")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    emulator.reset()
    return emulator


@pytest.fixture
def client(acm: AcmEmulator) -> Callable[..., Any]:
    """``client(region)``: a boto3 ACM client for the emulator with SDK retries off."""

    def make(region: str = "us-east-1", read_timeout: float = 5) -> Any:
        return boto3.client(
            "acm",
            region_name=region,
            endpoint_url=acm.url,
            config=Config(
                retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=read_timeout
            ),
        )

    return make
