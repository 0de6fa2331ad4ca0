"""Which certificates in a region carry which acm-sync owner tag: one shared index a region.

A lookup by owner tag (a new object, a recorded ARN that is gone, a deletion without a
record) used to list the whole region and read the tags of every certificate, per object and
per lookup. The index finds the certificates carrying an owner tag in bulk instead: one
paginated Resource Groups Tagging API ``GetResources`` (100 certificates with their tags a
call, filtered on the ``acmsync.io/owner`` key; docs/aws-facts.md). Where that API is
denied (no ``tag:GetResources``) or unavailable it lists the region (``ListCertificates``) and
reads the tags of certificates it has never seen.

- One index per engine (so per account) and region; lookups that arrive while it is being
  loaded wait for that load instead of starting their own (single flight).
- A load is reused for ``AwsSettings.owner_index_max_age`` seconds: a cold sync of many objects
  costs one listing a region, not one per object. ARNs this process imports are added at once,
  so its own imports are never missing from a reused load.
- Tags read one by one (the fallback) are kept for the life of the process: acm-sync writes
  the owner tag once, at import. What the index says is only where to look: the engine reads a
  match afresh before acting on it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from acm_sync.aws.adapter import AcmAdapter
from acm_sync.aws.errors import AwsCallError, ErrorClass
from acm_sync.core.state import OWNER_TAG

# Errors after which GetResources is not tried again in this account and region: the role
# lacks tag:GetResources, or the endpoint does not offer the API.
_UNAVAILABLE = frozenset({ErrorClass.ACCESS_DENIED, ErrorClass.PERMANENT, ErrorClass.CREDENTIALS})


@dataclass
class _RegionIndex:
    """One region's index; every field is guarded by ``OwnerIndex._lock``."""

    owners: dict[str, str] = field(default_factory=dict)  # ARN -> owner tag value
    loaded_at: float | None = None  # monotonic time the last complete load started
    loading: threading.Event | None = None  # set when the load in flight ends
    tagging: bool = True  # False once GetResources was refused here
    # ARNs this process imported: kept across loads, as GetResources is eventually
    # consistent and may not list a certificate imported a moment ago.
    seeded: set[str] = field(default_factory=set)


class OwnerIndex:
    """Owner tags of one account's certificates, per region; see the module docstring."""

    def __init__(
        self,
        adapter: AcmAdapter,
        *,
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._adapter = adapter
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._regions: dict[str, _RegionIndex] = {}
        # ARNs read one by one and found without an owner tag; kept for the process' life
        # (the owner-tagged ones are in the regions' indexes).
        self._untagged: set[str] = set()

    def owned_by(
        self, region: str, owns: Callable[[str | None], bool], *, reload: bool = False
    ) -> list[str]:
        """The ARNs in ``region`` whose owner tag ``owns`` accepts (loads the index if stale).

        ``reload``: only a load that starts after this call will do (still shared with the
        lookups that arrive meanwhile). A deletion asks for it: a certificate imported by
        another process since the last load (a previous leader's, its status write lost)
        must not be left behind.
        """
        index = self._loaded(region, self._clock() if reload else None)
        with self._lock:
            return sorted(arn for arn, owner in index.owners.items() if owns(owner))

    def owner_of(self, arn: str) -> str | None:
        """The owner tag the index holds for ``arn`` (None: none, or never seen)."""
        with self._lock:
            for index in self._regions.values():
                if arn in index.owners:
                    return index.owners[arn]
            return None

    def remember(
        self, region: str, arn: str, tags: Mapping[str, str], *, imported: bool = False
    ) -> None:
        """Record ``arn``'s tags as just read, or as just written by an import of ours."""
        owner = tags.get(OWNER_TAG)
        with self._lock:
            index = self._regions.setdefault(region, _RegionIndex())
            if owner is None:
                index.owners.pop(arn, None)
                self._untagged.add(arn)
            else:
                index.owners[arn] = owner
                self._untagged.discard(arn)
            if imported:
                index.seeded.add(arn)

    def forget(self, region: str, arn: str) -> None:
        """``arn`` is gone (deleted, or ACM said it does not exist)."""
        with self._lock:
            self._untagged.discard(arn)
            index = self._regions.get(region)
            if index is not None:
                index.owners.pop(arn, None)
                index.seeded.discard(arn)

    def listed_now(self, region: str) -> dict[str, str]:
        """Owner tags of every imported certificate in ``region``, listed now (consistent).

        For the lookup after an ambiguous import, which must see a certificate created a
        moment ago: ListCertificates, and tag reads for certificates never seen.
        """
        return self._listed(region)

    # ----- loading -----
    def _loaded(self, region: str, since: float | None) -> _RegionIndex:
        while True:
            with self._lock:
                index = self._regions.setdefault(region, _RegionIndex())
                loaded_at = index.loaded_at
                fresh = loaded_at is not None and (
                    loaded_at >= since
                    if since is not None
                    else self._clock() - loaded_at < self._max_age
                )
                if fresh:
                    return index
                waiting = index.loading
                if waiting is None:
                    done = index.loading = threading.Event()
                    use_tagging = index.tagging
                    started = self._clock()
                    break
            waiting.wait()
            # The load ended: fresh now, or it failed and this lookup tries itself.
        try:
            owners, use_tagging = self._load(region, use_tagging)
            with self._lock:
                # This process' imports stay, listed yet or not.
                kept = {
                    arn: index.owners[arn]
                    for arn in index.seeded
                    if arn not in owners and arn in index.owners
                }
                index.owners = {**owners, **kept}
                index.loaded_at = started
                index.tagging = use_tagging
            return index
        finally:
            with self._lock:
                index.loading = None
            done.set()

    def _load(self, region: str, use_tagging: bool) -> tuple[dict[str, str], bool]:
        if use_tagging:
            # Every certificate with an owner tag, whatever its value or other tags: a copy
            # of our owner tag without the managed-by tag must still be found (and named as
            # left alone), as a listing would.
            wanted: dict[str, str | None] = {OWNER_TAG: None}
            try:
                found = {
                    arn: tags[OWNER_TAG]
                    for arn, tags in self._adapter.tagged(region, wanted)
                    if OWNER_TAG in tags
                }
            except AwsCallError as err:
                if err.error_class is ErrorClass.THROTTLED:
                    raise
                # Denied or unavailable: list and read tags instead, this time, and for good
                # when the API is refused or its endpoint cannot be reached at all (a request
                # that never left); a 5xx or a lost answer may pass.
                use_tagging = err.error_class not in _UNAVAILABLE and err.ambiguous
            else:
                return found, True
        return self._listed(region), use_tagging

    def _listed(self, region: str) -> dict[str, str]:
        owners: dict[str, str] = {}
        for summary in self._adapter.list_all(region):
            arn = str(summary["CertificateArn"])
            if summary.get("Type", "IMPORTED") != "IMPORTED":
                continue
            with self._lock:
                index = self._regions.get(region)
                owner = index.owners.get(arn) if index is not None else None
                known = owner is not None or arn in self._untagged
            if not known:
                try:
                    tags = self._adapter.list_tags(region, arn)
                except AwsCallError as err:
                    if err.error_class is ErrorClass.NOT_FOUND:
                        continue  # deleted between the list and the read
                    raise
                owner = tags.get(OWNER_TAG)
                if owner is None:
                    with self._lock:
                        self._untagged.add(arn)
            if owner is not None:
                owners[arn] = owner
        return owners
