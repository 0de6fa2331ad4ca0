"""Fixtures for the operator tests: emulators in-process, the operator as a subprocess."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.certkit import TestCA
from tests.cluster_backends import RealApi
from tests.operator.opkit import Env, OperatorProcess, open_env


@pytest.fixture(scope="module")
def env(
    backend: str,
    real_api_servers: dict[str, RealApi],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Env]:
    """The module's cluster (per backend) and its own ACM emulator; tests use own namespaces."""
    yield from open_env(
        tmp_path_factory.mktemp(f"operator-env-{backend}"), backend, real_api_servers
    )


@pytest.fixture(scope="module")
def ca() -> TestCA:
    """A CA of the module's own; a module that defines its own ``ca`` fixture uses that."""
    return TestCA()


@pytest.fixture(scope="module")
def operator(env: Env) -> Iterator[OperatorProcess]:
    """One operator for the module: fast sweep, no leader election."""
    process = env.operator("--no-leader-election", "--sweep-interval", "2").start()
    try:
        yield process
    finally:
        process.stop()
