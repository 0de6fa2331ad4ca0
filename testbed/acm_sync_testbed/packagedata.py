"""The project files the test bed ships as package data: the CRDs and the example manifests.

In the repository ``data/crds`` and ``data/examples`` are symlinks to the top-level ``crds/``
and ``examples/`` (their single source); a wheel build copies the files they point at, so an
installed test bed needs no checkout.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable


def _data(name: str) -> Traversable:
    return files(__package__ or "acm_sync_testbed").joinpath("data", name)


def crds() -> Traversable:
    """The directory of CRD manifests the playground and demo apply."""
    return _data("crds")


def examples() -> Traversable:
    """The directory of example manifests (``kubectl apply -f`` it in the playground)."""
    return _data("examples")
