"""Fixtures for the operator tests: emulators in-process, the operator as a subprocess."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The typed helpers for the kubernetes client (kubekit) live with the Kubernetes API tests, the
# examples' generator loader (playkit) with the playground tests.
# Appended, not prepended: `from conftest import Env` must keep finding this directory's conftest.
sys.path.append(str(Path(__file__).resolve().parents[1] / "kube"))
sys.path.append(str(Path(__file__).resolve().parents[1] / "playground"))

from opkit import Env, OperatorProcess, open_env

from cluster_backends import RealApi


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
def operator(env: Env) -> Iterator[OperatorProcess]:
    """One operator for the module: fast sweep, no leader election."""
    process = env.operator("--no-leader-election", "--sweep-interval", "2").start()
    try:
        yield process
    finally:
        process.stop()
