"""Importing under a new ARN without ever creating a duplicate.

ImportCertificate without an ARN is not idempotent: a lost response or a 5xx leaves it unknown
whether ACM created the certificate. Before trying again the owner-tag lookup says whether it
did; only when it did not is the import repeated.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from acm_sync.aws.adapter import AcmAdapter
from acm_sync.aws.errors import AwsCallError
from acm_sync.aws.import_times import ImportTimes
from acm_sync.aws.lookup import Finder
from acm_sync.aws.settings import AwsSettings
from acm_sync.core.model import Material
from acm_sync.core.state import DesiredState

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Importer:
    """New imports through one adapter; the finder answers "did it land?" after an ambiguity."""

    def __init__(
        self, adapter: AcmAdapter, finder: Finder, settings: AwsSettings, times: ImportTimes
    ) -> None:
        self.adapter = adapter
        self.finder = finder
        self.settings = settings
        self.times = times  # counts the imports in flight; reads their ImportedAt in batches

    def import_idempotently(
        self, region: str, desired: DesiredState, material: Material, tags: Mapping[str, str]
    ) -> str:
        """Import under a new ARN; the ARN ACM holds the certificate under.

        When an attempt's outcome is unknown (lost response, 5xx), look the certificate up by
        owner tag, listing the region now: if ACM holds it already, that is the ARN; only
        otherwise try again. A new ARN is added to the owner-tag index at once.
        """
        attempts = max(1, self.settings.max_attempts)
        for attempt in range(1, attempts + 1):
            try:
                with self.times.importing(region) as got:
                    arn = self.adapter.import_new(region, material, tags)
                    got(arn)
            except AwsCallError as err:
                if not err.ambiguous:
                    raise
                found = [
                    c
                    for c in self.finder.by_owner(region, desired.owner, material, fresh=True)
                    if c.content_matches
                ]
                if found:
                    newest = max(found, key=lambda c: (c.imported_at or _EPOCH, c.arn))
                    return newest.arn
                if attempt == attempts:
                    raise
                self.adapter.pause(attempt)
            else:
                self.finder.imported(region, arn, tags)
                return arn
        raise AssertionError("unreachable")  # pragma: no cover
