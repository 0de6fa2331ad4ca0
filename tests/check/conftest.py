"""Fixtures for the ``acm-sync check`` tests."""

from __future__ import annotations

import pytest

from tests.certkit import Pki, make_pki


@pytest.fixture(scope="session")
def pki() -> Pki:
    return make_pki()
