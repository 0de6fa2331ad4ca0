"""ACM's ImportedAt of new imports, read in batches: one ListCertificates for many imports.

The status records ACM's ImportedAt of every certificate (the sweep compares it to notice an
out-of-band reimport). ImportCertificate does not return it, and reading it back with one
DescribeCertificate per import made that read half of a cold sync's calls. ListCertificates
summaries carry ImportedAt too (docs/aws-facts.md), so the imports that finish close together
in one region share one listing:

- Every new import in flight in a region is counted (from before the rate limiter's wait to
  its answer). An import that is done joins the region's open batch at once.
- The first reader of a batch leads it: it waits while other imports are still in flight in
  the region (they are at most ``region_workers`` and come at ACM's import rate), but never
  longer than ``AwsSettings.imported_at_batch_wait``, and not while another batch of the
  region is being read (single flight). Then it closes the batch and reads it: one
  DescribeCertificate for a batch of one, else one ListCertificates page, newest first.
- Any import the page does not show (a region of more than 1,000 certificates, a listing
  that failed) is read with its own DescribeCertificate, as before.

A cold sync at ACM's rate of 1 import/s thus makes about 1 + 1/region_workers calls an import,
and waits for no listing at its end: with nothing else in flight the batch is read at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from acm_sync.aws.adapter import AcmAdapter
from acm_sync.aws.errors import AwsCallError

# A batch's answers wait this long (seconds) for a reader that comes late; an import whose
# sync failed before reading its ImportedAt never comes.
_KEEP_ANSWERS = 60.0


@dataclass
class _Batch:
    """New ARNs whose ImportedAt one read answers; guarded by ``ImportTimes._lock``."""

    arns: set[str] = field(default_factory=set)
    led: bool = False  # a reader has taken it on
    done: bool = False
    done_at: float = 0.0
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class _Region:
    in_flight: int = 0  # new imports sent or waiting to be sent
    reading: int = 0  # batches of this region being read (1 but past the deadline)
    open: _Batch | None = None  # the batch that finished imports join
    batch_of: dict[str, _Batch] = field(default_factory=dict)


class ImportTimes:
    """Batched ImportedAt reads for one adapter (one account), per region; thread-safe."""

    def __init__(
        self,
        adapter: AcmAdapter,
        *,
        max_wait: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._adapter = adapter
        self._max_wait = max_wait
        self._clock = clock
        self._lock = threading.Condition()
        self._regions: dict[str, _Region] = {}

    @contextmanager
    def importing(self, region: str) -> Iterator[Callable[[str], None]]:
        """Count a new import in flight; call the yielded function with the ARN it got."""
        with self._lock:
            state = self._regions.setdefault(region, _Region())
            state.in_flight += 1
        got: list[str] = []
        try:
            yield got.append
        finally:
            with self._lock:
                state.in_flight -= 1
                if got and self._max_wait > 0:
                    batch = state.open = state.open or _Batch()
                    batch.arns.add(got[0])
                    state.batch_of[got[0]] = batch
                self._lock.notify_all()

    def read(self, region: str, arn: str) -> dict[str, Any]:
        """``arn``'s summary from a batched listing, or its DescribeCertificate.

        Either carries ImportedAt, NotAfter and InUse (only DescribeCertificate has Serial
        and InUseBy). Raises :class:`AwsCallError` when the DescribeCertificate fails.
        """
        with self._lock:
            state = self._regions.get(region)
            batch = state.batch_of.get(arn) if state is not None else None
            leads = batch is not None and not batch.led
            if batch is not None:
                batch.led = True
        if state is not None and batch is not None:
            if leads:
                self._lead(region, state, batch)
            with self._lock:
                while not batch.done:
                    self._lock.wait()
                state.batch_of.pop(arn, None)
            summary = batch.summaries.get(arn)
            if summary is not None:
                return summary
        return self._adapter.describe(region, arn)

    def _lead(self, region: str, state: _Region, batch: _Batch) -> None:
        with self._lock:
            deadline = self._clock() + self._max_wait
            while state.in_flight > 0 or state.reading > 0:
                left = deadline - self._clock()
                if left <= 0:
                    break
                self._lock.wait(left)
            if state.open is batch:
                state.open = None  # imports that finish from now on start the next batch
            state.reading += 1
            arns = set(batch.arns)
        summaries: dict[str, dict[str, Any]] = {}
        try:
            summaries = self._summaries(region, arns)
        except AwsCallError:
            pass  # each reader describes its own certificate instead
        finally:
            with self._lock:
                state.reading -= 1
                batch.summaries = summaries
                batch.done, batch.done_at = True, self._clock()
                # Readers take their answer (and drop their entry) as they come.
                stale = [
                    arn
                    for arn, old in state.batch_of.items()
                    if old.done and old.done_at < batch.done_at - _KEEP_ANSWERS
                ]
                for arn in stale:
                    del state.batch_of[arn]
                self._lock.notify_all()

    def _summaries(self, region: str, arns: set[str]) -> dict[str, dict[str, Any]]:
        if len(arns) == 1:
            # Alone: its reader's own DescribeCertificate is as many calls, a smaller answer.
            return {}
        return {
            str(s["CertificateArn"]): s
            for s in self._adapter.list_newest(region)
            if s.get("CertificateArn") in arns
        }
