"""The slice of the ACM engine the kopf layer uses, as a structural type.

The kopf layer is written against this protocol (docs/architecture.md, "ACM engine"), so that
its tests can also drive it with a recording fake.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

from acm_sync.core.model import Material
from acm_sync.core.planner import Drift
from acm_sync.core.state import DesiredState, Owner, RegionOutcome, RegionRecord


class EngineLike(Protocol):
    """``acm_sync.aws.engine.Engine``'s blocking interface."""

    def sync(
        self, desired: DesiredState, material: Material, records: Mapping[str, RegionRecord]
    ) -> dict[str, RegionOutcome]:
        """Import or reimport wherever the records say it is needed."""
        ...

    def delete(
        self,
        owner: Owner,
        records: Mapping[str, RegionRecord],
        held: Collection[str] = frozenset(),
    ) -> dict[str, RegionOutcome]:
        """Delete the owner's certificates in the records' regions (none named in ``held``)."""
        ...

    def sweep(self, region: str, records: Sequence[tuple[Owner, RegionRecord]]) -> list[Drift]:
        """Compare records with ACM in one region; return the drifts found."""
        ...

    def close(self) -> None:
        """Stop the engine's threads without waiting for calls in flight (shutdown)."""
        ...
