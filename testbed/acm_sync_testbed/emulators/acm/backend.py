"""Strict ACM state: moto's certificate model plus the rules, limits and faults moto lacks.

:class:`StrictAcm` keeps one moto backend per region and account, with a lock, the call log,
per-API rates (``ThrottlingException`` above them), the import quota and injected faults; the
API operations themselves, with ACM's documented rules, are in operations.py (its base class
:class:`~acm_sync_testbed.emulators.acm.operations.CertificateOperations`).
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from moto.acm.models import AWSCertificateManagerBackend

from acm_sync_testbed.emulators.acm import rules
from acm_sync_testbed.emulators.acm.calllog import Call
from acm_sync_testbed.emulators.acm.errors import AcmError
from acm_sync_testbed.emulators.acm.faults import CommittedError, DropConnection, Faults
from acm_sync_testbed.emulators.acm.operations import CertificateOperations
from acm_sync_testbed.emulators.acm.regions import acm_regions, unknown_region_message
from acm_sync_testbed.emulators.acm.sts import ACCOUNT_ID
from acm_sync_testbed.emulators.acm.throttle import Bucket, burst_of

# AcmError is part of this module's public face: server.py and the tests import it from here.
__all__ = ["AcmError", "StrictAcm"]

_IN_USE_BY = "arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/app/emulated/{n}"
_ARN_ACCOUNT_RE = re.compile(r"arn:[^:]+:acm:[^:]+:([0-9]{12}):")


class StrictAcm(CertificateOperations):
    """All regions' certificates of one account, limits, faults and the call log. Thread-safe.

    The instance made first holds the emulator's own account; :meth:`account` gives the
    instance of another account, sharing its lock, faults, rates, quota and call log (state,
    rate buckets and quota counts stay per account and region, as in AWS).
    """

    def __init__(
        self,
        *,
        rates: dict[str, float] | None = None,
        import_quota: int | None = None,
        reimport_counts_toward_quota: bool = False,
        extra_regions: Iterable[str] = (),
        limits: rules.Limits = rules.DEFAULT_LIMITS,
        account_id: str = ACCOUNT_ID,
        root: StrictAcm | None = None,
    ) -> None:
        self.account_id = account_id
        self._root = root or self
        self._accounts: dict[str, StrictAcm] = {}
        self._lock: threading.RLock = root._lock if root is not None else threading.RLock()
        # Regions served besides botocore's (a region newer than the installed botocore).
        self._extra_regions = frozenset(extra_regions)
        self.regions = acm_regions() | self._extra_regions
        self.faults: Faults = root.faults if root is not None else Faults()
        self._init_state()
        self._rates = {api: float(rate) for api, rate in (rates or {}).items() if rate}
        self.import_quota = import_quota
        self.reimport_counts_toward_quota = reimport_counts_toward_quota
        # The certificate and chain size limits are unverified, hence settable.
        self.limits = limits

    def _init_state(self) -> None:
        self._regions: dict[str, AWSCertificateManagerBackend] = {}
        self._order: dict[str, list[str]] = {}  # region -> ARNs in import order (paging)
        self._imports: Counter[str] = Counter()
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._calls: list[Call] = []

    # ----- control -----
    def account(self, account_id: str) -> StrictAcm:
        """The state of ``account_id`` (created on first use, forgotten on reset)."""
        root = self._root
        if account_id == root.account_id:
            return root
        with self._lock:
            found = root._accounts.get(account_id)
            if found is None:
                found = StrictAcm(
                    rates=root._rates,
                    import_quota=root.import_quota,
                    reimport_counts_toward_quota=root.reimport_counts_toward_quota,
                    extra_regions=root._extra_regions,
                    limits=root.limits,
                    account_id=account_id,
                    root=root,
                )
                found.regions = root.regions
                root._accounts[account_id] = found
            return found

    def _all(self) -> list[StrictAcm]:
        return [self._root, *self._root._accounts.values()]

    def reset(self) -> None:
        """Forget every certificate, call, fault, rate and quota (and every other account)."""
        with self._lock:
            self._accounts.clear()
            self._init_state()
            self.faults.clear()
            self.set_rates({})
            self.import_quota = None
            self.regions = acm_regions() | self._extra_regions

    def add_regions(self, regions: Iterable[str]) -> None:
        """Serve ``regions`` too, until reset (a region newer than the installed botocore)."""
        with self._lock:
            for acm in self._all():
                acm.regions = acm.regions | frozenset(regions)

    def set_rates(self, rates: dict[str, float]) -> None:
        """Per-API request rates (calls/s, per region); APIs not named are unlimited."""
        with self._lock:
            for acm in self._all():
                acm._rates = {api: float(rate) for api, rate in rates.items() if rate}
                acm._buckets.clear()

    def set_import_quota(self, quota: int | None) -> None:
        """How many imports each region accepts before LimitExceededException (None: no limit)."""
        with self._lock:
            for acm in self._all():
                acm.import_quota = quota

    def set_in_use(self, arn: str, in_use: bool = True, users: int = 1) -> None:
        """Attach a certificate to ``users`` load balancers (or detach it from all)."""
        with self._lock:
            match = _ARN_ACCOUNT_RE.match(arn)
            owner = self.account(match.group(1)) if match else self
            region = owner._region_for(arn)
            bundle = owner._bundle(region, arn)
            count = max(1, users) if in_use else 0
            bundle.in_use_by = [
                _IN_USE_BY.format(region=region, account=owner.account_id, n=n)
                for n in range(1, count + 1)
            ]

    def calls(self) -> list[Call]:
        """Every API call so far in every account, oldest first."""
        with self._lock:
            return list(self._root._calls)

    def counts(self) -> dict[str, dict[str, int]]:
        """Calls per ``region`` then per API."""
        result: dict[str, dict[str, int]] = {}
        for call in self.calls():
            per = result.setdefault(call.region, {})
            per[call.api] = per.get(call.api, 0) + 1
        return result

    def certificates(
        self, region: str | None = None, account: str | None = None
    ) -> list[dict[str, Any]]:
        """A test's view of the stored certificates: ARN, account, region, key type, tags."""
        with self._lock:
            out = []
            for acm in self._all():
                if account not in (None, acm.account_id):
                    continue
                out.extend(acm._own_certificates(region))
            return out

    def _own_certificates(self, region: str | None) -> list[dict[str, Any]]:
        with self._lock:
            out = []
            for name, backend in sorted(self._regions.items()):
                if region not in (None, name):
                    continue
                for arn in self._order.get(name, []):
                    bundle = backend._certificates[arn]
                    out.append(
                        {
                            "arn": arn,
                            "account": self.account_id,
                            "region": name,
                            "key_algorithm": bundle.describe()["Certificate"]["KeyAlgorithm"],
                            "tags": {k: v or "" for k, v in bundle.tags.items()},
                            "in_use": bool(bundle.in_use_by),
                            "serial": format(bundle._cert.serial_number, "x"),
                        }
                    )
            return out

    # ----- request entry point -----
    def handle(
        self,
        region: str,
        api: str,
        params: dict[str, Any],
        handler: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Run one API call; raise :class:`AcmError` for an error answer.

        ``handler`` answers an API of another service served at the same URL (tagging.py's
        GetResources), with the same faults, rates and call log as ACM's own.
        """
        arn = (
            params.get("CertificateArn") if isinstance(params.get("CertificateArn"), str) else None
        )
        with self._lock:
            outcome = "ok"
            try:
                if region not in self.regions:
                    raise AcmError("InvalidSignatureException", unknown_region_message(region))
                if failure := self.faults.before_call(region, api, params):
                    status, error = failure
                    raise AcmError(error, f"Injected {error} (emulator fault).", status)
                self._throttle(region, api)
                handler = handler or getattr(self, "_api_" + api, None)
                if handler is None:
                    raise AcmError("UnknownOperationException", f"{api} is not emulated")
                result: dict[str, Any] = handler(region, params)
                if api == "ImportCertificate":
                    arn = result["CertificateArn"]
                self.faults.after_commit(region, api, params, arn)
                return result
            except AcmError as err:
                outcome = err.error_type
                raise
            except CommittedError as err:
                # The call took effect: the log says so, the client sees only the error.
                outcome = f"{err.error}AfterCommit"
                message = f"Injected {err.error} (emulator fault)."
                raise AcmError(err.error, message, err.status) from None
            except DropConnection as drop:
                outcome = "ResponseLost" if drop.committed else "ConnectionDropped"
                arn = drop.arn or arn
                raise
            finally:
                self._root._calls.append(
                    Call(
                        len(self._root._calls) + 1,
                        time.time(),
                        region,
                        api,
                        outcome,
                        arn,
                        tuple(sorted(params)),
                        self.account_id,
                    )
                )

    def _throttle(self, region: str, api: str) -> None:
        rate = self._rates.get(api)
        if rate is None:
            return
        bucket = self._buckets.setdefault((region, api), Bucket(rate, burst_of(rate)))
        if not bucket.take():
            raise AcmError("ThrottlingException", "Rate exceeded")
