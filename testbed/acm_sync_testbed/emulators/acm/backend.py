"""Strict ACM state: moto's certificate model plus the rules, limits and faults moto lacks.

moto (``moto.acm.models``) parses certificates and keys and renders descriptions; this class
keeps one moto backend per region and adds what real ACM does and moto does not: tags refused
together with ``CertificateArn``, tags and in-use marks kept on reimport, ACM's documented
import and reimport rules (rules.py, written from the documentation, not the operator's
code), ``ResourceInUseException`` on delete, ``ThrottlingException`` above per-API rates,
``LimitExceededException`` past an import quota, real ACM's ListCertificates key-type default
and pagination. It also injects faults.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from moto.acm.models import AWSCertificateManagerBackend

from acm_sync_testbed.emulators.acm import rules
from acm_sync_testbed.emulators.acm.calllog import Call
from acm_sync_testbed.emulators.acm.faults import CommittedError, DropConnection, Faults
from acm_sync_testbed.emulators.acm.regions import (
    acm_regions,
    region_of_arn,
    unknown_region_message,
)
from acm_sync_testbed.emulators.acm.sts import ACCOUNT_ID
from acm_sync_testbed.emulators.acm.throttle import Bucket, burst_of

MAX_PAGE = 1000
_IN_USE_BY = "arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/app/emulated/{n}"
_ARN_ACCOUNT_RE = re.compile(r"arn:[^:]+:acm:[^:]+:([0-9]{12}):")


class AcmError(Exception):
    """An error answered to the client as ``{"__type": type, "message": message}``."""

    def __init__(self, error_type: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status


class StrictAcm:
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

    # ----- helpers -----
    def _backend(self, region: str) -> AWSCertificateManagerBackend:
        if region not in self._regions:
            self._regions[region] = AWSCertificateManagerBackend(region, self.account_id)
            self._order[region] = []
        return self._regions[region]

    def _region_for(self, arn: str) -> str:
        region = region_of_arn(arn)
        if region is None:
            raise AcmError("InvalidArnException", f"{arn} is not a valid ARN")
        return region

    def _bundle(self, region: str, arn: Any) -> Any:
        if not isinstance(arn, str) or not arn:
            raise AcmError("ValidationException", "CertificateArn is required")
        if self._region_for(arn) != region:
            raise AcmError("InvalidArnException", f"{arn} is not in region {region}")
        backend = self._backend(region)
        if arn not in backend._certificates:
            raise AcmError(
                "ResourceNotFoundException",
                f"Could not find certificate {arn}.",
            )
        return backend._certificates[arn]

    @staticmethod
    def _decode(params: dict[str, Any], name: str) -> bytes:
        value = params.get(name)
        if value is None:
            raise AcmError("ValidationException", f"{name} is required")
        try:
            return base64.b64decode(value, validate=True)
        except (ValueError, TypeError):
            raise AcmError("ValidationException", f"{name} is not valid base64") from None

    @staticmethod
    def _validate_tags(tags: Any) -> list[dict[str, str]]:
        if not isinstance(tags, list) or not tags:
            raise AcmError("ValidationException", "Tags must be a non-empty list")
        for tag in tags:
            key = tag.get("Key", "") if isinstance(tag, dict) else ""
            if not key or len(key) > 127 or len(str(tag.get("Value", ""))) > 255:
                raise AcmError(
                    "InvalidTagException", f"Tag key or value has an invalid length: {key}"
                )
            if key.lower().startswith("aws:"):
                raise AcmError(
                    "InvalidTagException", f"Tag key {key} uses the reserved prefix aws:"
                )
        return tags

    # ----- the API -----
    def _api_ImportCertificate(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        certificate = self._decode(params, "Certificate")
        private_key = self._decode(params, "PrivateKey")
        chain = self._decode(params, "CertificateChain") if "CertificateChain" in params else None
        arn = params.get("CertificateArn")
        tags = params.get("Tags")
        if arn is not None and tags:
            raise AcmError("InvalidParameterException", "Tagging is not permitted on re-import.")
        if tags:
            tags = self._validate_tags(tags)
            if len(tags) > 50:
                raise AcmError("TooManyTagsException", "The request contains too many tags.")
        if problem := rules.check_import(certificate, private_key, chain, limits=self.limits):
            raise AcmError(*problem)
        old = self._bundle(region, arn) if arn is not None else None
        if old is not None and (problem := rules.check_reimport(old.cert, certificate)):
            raise AcmError(*problem)
        counts = old is None or self.reimport_counts_toward_quota
        if counts and self.import_quota is not None and self._imports[region] >= self.import_quota:
            raise AcmError(
                "LimitExceededException",
                "Error importing certificate: you have reached your limit of imported "
                "certificates for this account.",
            )
        backend = self._backend(region)
        try:
            # moto reads LF-only PEM and no EC PARAMETERS block; ACM accepts both.
            new_arn = backend.import_certificate(
                certificate.replace(b"\r\n", b"\n"),
                rules.stored_private_key(private_key),
                chain.replace(b"\r\n", b"\n") if chain is not None else None,
                arn,
                [],
            )
        except Exception as err:  # moto's own validation (dates, PEM): pass its text on
            raise AcmError(
                getattr(err, "error_type", "ValidationException"),
                getattr(err, "message", "The certificate is not valid."),
            ) from None
        bundle: Any = backend._certificates[new_arn]
        # moto stores what you gave plus a made-up root; ACM gives back what you imported.
        bundle.chain = chain
        if old is not None:
            # Real ACM keeps tags and associations on reimport; moto makes a fresh bundle.
            bundle.tags = old.tags
            bundle.in_use_by = old.in_use_by
        else:
            self._order[region].append(new_arn)
            if tags:
                bundle.tags.add(tags)
        if counts:
            self._imports[region] += 1
        if old is None:
            self.faults.after_import(region, new_arn)
        return {"CertificateArn": new_arn}

    def _api_DescribeCertificate(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        bundle = self._bundle(region, params.get("CertificateArn"))
        described: dict[str, Any] = bundle.describe()
        cert = described["Certificate"]
        cert["InUseBy"] = list(bundle.in_use_by)
        cert["Serial"] = ":".join(
            f"{b:02x}"
            for b in bundle._cert.serial_number.to_bytes(
                (bundle._cert.serial_number.bit_length() + 7) // 8 or 1, "big"
            )
        )
        return described

    def _api_GetCertificate(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        bundle = self._bundle(region, params.get("CertificateArn"))
        result = {"Certificate": bundle.cert.decode()}
        if bundle.chain:
            result["CertificateChain"] = bundle.chain.decode()
        return result

    def _api_ListTagsForCertificate(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        bundle = self._bundle(region, params.get("CertificateArn"))
        return {"Tags": [{"Key": k, "Value": v or ""} for k, v in bundle.tags.items()]}

    def _api_AddTagsToCertificate(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        bundle = self._bundle(region, params.get("CertificateArn"))
        tags = self._validate_tags(params.get("Tags"))
        merged = {**bundle.tags, **{t["Key"]: t.get("Value", "") for t in tags}}
        if len(merged) > 50:
            raise AcmError("TooManyTagsException", "The certificate would have more than 50 tags.")
        bundle.tags.add(tags)
        return {}

    def _api_RemoveTagsFromCertificate(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        bundle = self._bundle(region, params.get("CertificateArn"))
        bundle.tags.remove(self._validate_tags(params.get("Tags")))
        return {}

    def _api_DeleteCertificate(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        arn = str(params.get("CertificateArn"))
        bundle = self._bundle(region, arn)
        if bundle.in_use_by:
            raise AcmError(
                "ResourceInUseException",
                f"Certificate {arn} in account {self.account_id} is in use.",
            )
        del self._backend(region)._certificates[arn]
        self._order[region].remove(str(arn))
        return {}

    def _api_ListCertificates(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        includes = params.get("Includes") or {}
        key_types = includes.get("keyTypes") or list(rules.DEFAULT_LISTED_KEY_TYPES)
        statuses = params.get("CertificateStatuses") or []
        page = int(params.get("MaxItems") or MAX_PAGE)
        if not 1 <= page <= MAX_PAGE:
            raise AcmError("ValidationException", f"MaxItems must be between 1 and {MAX_PAGE}")
        start = 0
        if token := params.get("NextToken"):
            try:
                start = int(base64.b64decode(token).decode())
            except ValueError:
                raise AcmError("InvalidArgsException", "NextToken is not valid") from None
        backend = self._backend(region)
        matching = []
        for arn in self._order[region]:
            bundle = backend.get_certificate(arn)
            described = bundle.describe()["Certificate"]
            if described["KeyAlgorithm"] in key_types and (
                not statuses or described["Status"] in statuses
            ):
                matching.append(_summary(described, bundle))
        result: dict[str, Any] = {"CertificateSummaryList": matching[start : start + page]}
        if start + page < len(matching):
            result["NextToken"] = base64.b64encode(str(start + page).encode()).decode()
        return result


def _summary(described: dict[str, Any], bundle: Any) -> dict[str, Any]:
    """A CertificateSummary with real ACM's field names (no Serial, no InUseBy list)."""
    sans = list(described.get("SubjectAlternativeNames") or [])
    return {
        "CertificateArn": described["CertificateArn"],
        "DomainName": described["DomainName"],
        "SubjectAlternativeNameSummaries": sans[:100],
        "HasAdditionalSubjectAlternativeNames": len(sans) > 100,
        "Status": described["Status"],
        "Type": described["Type"],
        "KeyAlgorithm": described["KeyAlgorithm"],
        "KeyUsages": [],
        "ExtendedKeyUsages": [],
        "InUse": bool(bundle.in_use_by),
        "Exported": False,
        "RenewalEligibility": "INELIGIBLE",
        "NotBefore": described["NotBefore"],
        "NotAfter": described["NotAfter"],
        "ImportedAt": described.get("ImportedAt"),
    }
