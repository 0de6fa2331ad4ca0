"""A thin typed wrapper over the ACM calls acm-sync makes: rate limits, retries, counters.

Retries here cover only what is safe to repeat: reads, tag changes, deletes, reimports into
an ARN, and a new import that was throttled or never left the host. A new import whose
outcome is unknown is raised to the engine, which looks up by owner tag before trying again.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from acm_sync.aws.clients import ACM, TAGGING, AcmClients, SessionSource
from acm_sync.aws.errors import AwsCallError, ErrorClass, classify
from acm_sync.aws.ratelimit import RateLimiter
from acm_sync.aws.settings import AwsSettings
from acm_sync.core.keys import ACM_KEY_ALGORITHMS
from acm_sync.core.model import Material
from acm_sync.core.reasons import Reason

CallObserver = Callable[[str, str, str], None]  # (api, region, outcome)
T = TypeVar("T")

PAGE_SIZE = 1000
TAGGING_PAGE_SIZE = 100  # GetResources' maximum ResourcesPerPage (docs/aws-facts.md)
# Error codes saying that assumed credentials are no longer valid.
_STALE_CREDENTIALS = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException"}
)
# The calls that change ACM: each is fenced by ``AwsSettings.write_guard``.
WRITE_APIS = frozenset(
    {"ImportCertificate", "DeleteCertificate", "AddTagsToCertificate", "RemoveTagsFromCertificate"}
)


class NotLeaderError(AwsCallError):
    """A write refused before it was sent: the write guard said this process may not write."""

    def __init__(self, api: str, region: str) -> None:
        super().__init__(
            api,
            region,
            ErrorClass.NOT_LEADER,
            Reason.NOT_LEADER,
            "this replica no longer holds the leader Lease; the call was not sent",
        )


def utc(value: Any) -> datetime | None:
    """botocore's timestamps (local-zone aware) as UTC; None stays None."""
    return value.astimezone(UTC) if isinstance(value, datetime) else None


class AcmAdapter:
    """Every ACM call goes through :meth:`_call`: rate limit, count, classify, retry."""

    def __init__(
        self,
        settings: AwsSettings,
        observer: CallObserver | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        sessions: SessionSource | None = None,
    ) -> None:
        self.settings = settings
        self._clients = AcmClients(settings, sessions)
        self._sessions = sessions
        self._limiter = RateLimiter(settings, sleep=sleep)
        self._observer = observer
        self._sleep = sleep
        self._lock = threading.Lock()
        self.counts: Counter[tuple[str, str, str]] = Counter()

    # ----- plumbing -----
    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for attempt 1, 2, ... (seconds)."""
        ceiling = min(self.settings.backoff_cap, self.settings.backoff_base * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not crypto)

    def pause(self, attempt: int) -> None:
        """Sleep the backoff for ``attempt`` (the engine's own retry loops use it too)."""
        self._sleep(self.backoff(attempt))

    def snapshot(self) -> dict[tuple[str, str, str], int]:
        """Calls so far by (API, region, outcome)."""
        with self._lock:
            return dict(self.counts)

    def _record(self, api: str, region: str, outcome: str) -> None:
        with self._lock:
            self.counts[(api, region, outcome)] += 1
        if self._observer is not None:
            self._observer(api, region, outcome)

    def _once(self, region: str, api: str, send: Callable[[Any], T], service: str) -> T:
        self._limiter.acquire(region, api)
        try:
            client = self._clients.of(region, service)
            # Fencing, after the rate limiter's wait and right before the request: a leader
            # that lost its Lease while waiting or retrying must not write any more.
            if api in WRITE_APIS and not self.settings.may_write():
                raise NotLeaderError(api, region)
            result = send(client)
        except AwsCallError:
            # NotLeader, or a target's role that could not be assumed (also on a refresh of
            # its credentials): nothing was sent, so it is not an ACM call.
            raise
        except Exception as exc:
            err = classify(exc, api, region)
            if self._sessions is not None and err.code in _STALE_CREDENTIALS:
                # Assumed credentials refused before their expiry (a revoked session): assume
                # again on the retry, which then succeeds or says AssumeRoleFailed. AWS refused
                # the request at authentication, so nothing was done.
                self._sessions.invalidate()
                err = AwsCallError(api, region, ErrorClass.RETRYABLE, err.code, err.message)
            self._record(api, region, err.code)
            raise err from None  # the original may carry request parameters
        self._record(api, region, "ok")
        return result

    def _call(
        self,
        region: str,
        api: str,
        send: Callable[[Any], T],
        *,
        retry_ambiguous: bool = True,
        retry_in_use: bool = False,
        service: str = ACM,
        attempts: int | None = None,
    ) -> T:
        attempts = max(1, attempts or self.settings.max_attempts)
        for attempt in range(1, attempts + 1):
            try:
                return self._once(region, api, send, service)
            except AwsCallError as err:
                retry = err.retryable and (retry_ambiguous or not err.ambiguous)
                retry = retry or (retry_in_use and err.error_class is ErrorClass.IN_USE)
                if not retry or attempt == attempts:
                    raise
                self.pause(attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    # ----- ACM -----
    def import_new(self, region: str, material: Material, tags: Mapping[str, str]) -> str:
        """ImportCertificate without an ARN; raises ambiguous errors without retrying."""

        def send(client: Any) -> str:
            params: dict[str, Any] = {
                "Certificate": material.certificate,
                "PrivateKey": material.private_key,
                "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
            }
            if material.chain:
                params["CertificateChain"] = material.chain
            return str(client.import_certificate(**params)["CertificateArn"])

        return self._call(region, "ImportCertificate", send, retry_ambiguous=False)

    def reimport(self, region: str, arn: str, material: Material) -> None:
        """ImportCertificate into ``arn`` (never with tags: ACM refuses them on reimport)."""

        def send(client: Any) -> None:
            params: dict[str, Any] = {
                "CertificateArn": arn,
                "Certificate": material.certificate,
                "PrivateKey": material.private_key,
            }
            if material.chain:
                params["CertificateChain"] = material.chain
            client.import_certificate(**params)

        self._call(region, "ImportCertificate", send)

    def describe(self, region: str, arn: str) -> dict[str, Any]:
        """DescribeCertificate's ``Certificate`` structure."""
        return dict(
            self._call(
                region,
                "DescribeCertificate",
                lambda c: c.describe_certificate(CertificateArn=arn)["Certificate"],
            )
        )

    def get_pem(self, region: str, arn: str) -> tuple[bytes, bytes | None]:
        """The certificate and chain ACM holds under ``arn`` (no key: ACM never returns it)."""
        answer = self._call(
            region, "GetCertificate", lambda c: c.get_certificate(CertificateArn=arn)
        )
        chain = answer.get("CertificateChain")
        return str(answer.get("Certificate", "")).encode(), chain.encode() if chain else None

    def list_tags(self, region: str, arn: str) -> dict[str, str]:
        """The certificate's tags."""
        answer = self._call(
            region,
            "ListTagsForCertificate",
            lambda c: c.list_tags_for_certificate(CertificateArn=arn),
        )
        return {t["Key"]: t.get("Value", "") for t in answer.get("Tags", [])}

    def add_tags(self, region: str, arn: str, tags: Mapping[str, str]) -> None:
        """AddTagsToCertificate (adds or overwrites)."""
        pairs = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
        self._call(
            region,
            "AddTagsToCertificate",
            lambda c: c.add_tags_to_certificate(CertificateArn=arn, Tags=pairs),
        )

    def remove_tags(self, region: str, arn: str, keys: Sequence[str]) -> None:
        """RemoveTagsFromCertificate by key, whatever the value."""
        pairs = [{"Key": k} for k in sorted(keys)]
        self._call(
            region,
            "RemoveTagsFromCertificate",
            lambda c: c.remove_tags_from_certificate(CertificateArn=arn, Tags=pairs),
        )

    def delete(self, region: str, arn: str) -> None:
        """DeleteCertificate; ResourceInUse is retried (association removal takes a while)."""
        self._call(
            region,
            "DeleteCertificate",
            lambda c: c.delete_certificate(CertificateArn=arn),
            retry_in_use=True,
        )

    def list_all(self, region: str) -> Iterator[dict[str, Any]]:
        """Every certificate summary of every key type, paginated at 1,000 per call.

        ACM lists only RSA_1024 and RSA_2048 unless told otherwise, so all seven key types
        are named.
        """
        token: str | None = None
        while True:
            params: dict[str, Any] = {
                "Includes": {"keyTypes": list(ACM_KEY_ALGORITHMS)},
                "MaxItems": PAGE_SIZE,
            }
            if token:
                params["NextToken"] = token
            page = self._call(region, "ListCertificates", _lister(params))
            yield from page.get("CertificateSummaryList", [])
            token = page.get("NextToken")
            if not token:
                return

    def list_newest(self, region: str) -> list[dict[str, Any]]:
        """One ListCertificates page of every key type, newest first (``SortBy=CREATED_AT``).

        Whether ACM sorts imported certificates by creation is not documented (CreatedAt is
        documented for ACM-issued ones); a region of up to 1,000 certificates fits in the
        page whatever the order, and a caller must treat a missing certificate as unknown.
        """
        params: dict[str, Any] = {
            "Includes": {"keyTypes": list(ACM_KEY_ALGORITHMS)},
            "MaxItems": PAGE_SIZE,
            "SortBy": "CREATED_AT",
            "SortOrder": "DESCENDING",
        }
        page = self._call(region, "ListCertificates", _lister(params))
        return list(page.get("CertificateSummaryList", []))

    def tagged(
        self, region: str, tag_filters: Mapping[str, str | None]
    ) -> Iterator[tuple[str, dict[str, str]]]:
        """(ARN, tags) of every ACM certificate carrying all of ``tag_filters``, 100 a call.

        A filter's value None matches any value of its key. The Resource Groups Tagging
        API's GetResources (``tag:GetResources``).
        """
        token = ""
        filters = [
            {"Key": k, "Values": [v]} if v is not None else {"Key": k}
            for k, v in sorted(tag_filters.items())
        ]
        while True:
            params: dict[str, Any] = {
                "ResourceTypeFilters": ["acm:certificate"],
                "TagFilters": filters,
                "ResourcesPerPage": TAGGING_PAGE_SIZE,
            }
            if token:
                params["PaginationToken"] = token
            # One attempt: a failure falls back to listing at once rather than after the
            # backoff (a cluster reaching ACM through a VPC endpoint may have no Tagging one).
            page = self._call(region, "GetResources", _getter(params), service=TAGGING, attempts=1)
            for item in page.get("ResourceTagMappingList", []):
                tags = {t["Key"]: t.get("Value", "") for t in item.get("Tags", [])}
                yield str(item["ResourceARN"]), tags
            token = str(page.get("PaginationToken") or "")
            if not token:
                return


def _getter(params: dict[str, Any]) -> Callable[[Any], dict[str, Any]]:
    def send(client: Any) -> dict[str, Any]:
        return dict(client.get_resources(**params))

    return send


def _lister(params: dict[str, Any]) -> Callable[[Any], dict[str, Any]]:
    def send(client: Any) -> dict[str, Any]:
        return dict(client.list_certificates(**params))

    return send
