"""Fixtures for the ``acm-sync check`` tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The certificate factory lives with the core tests; the CLI tests reuse it rather than
# keeping a second copy. (tests/ has no __init__.py, so the path is added explicitly.)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))

from certkit import Pki, make_pki


@pytest.fixture(scope="session")
def pki() -> Pki:
    return make_pki()
