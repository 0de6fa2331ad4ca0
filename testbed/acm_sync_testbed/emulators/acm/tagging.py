"""The Resource Groups Tagging API's GetResources, over the emulator's ACM certificates.

AWS documents that GetResources covers every resource type (ACM certificates included), per
account and region, returns each resource with all its tags, never returns untagged ones,
and pages at most 100 resources at a time (docs/aws-facts.md). boto3's
``resourcegroupstaggingapi`` client speaks JSON 1.1 with ``X-Amz-Target:
ResourceGroupsTaggingAPI_20170126.GetResources`` and signs for the ``tagging`` service; the
emulator answers it at the same URL as ACM. Tests can deny it (AccessDeniedException, as IAM
answers without ``tag:GetResources``) to exercise a client's fallback.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Callable
from typing import Any

from acm_sync_testbed.emulators.acm.backend import AcmError, StrictAcm

TARGET_PREFIX = "ResourceGroupsTaggingAPI_20170126."
MAX_PER_PAGE = 100
_SCOPE_RE = re.compile(r"Credential=[^/,]+/[0-9]{8}/([a-z0-9-]+)/tagging/")
# The resource types the emulator holds: ACM certificates only.
_TYPES = frozenset({"acm", "acm:certificate"})

Handler = Callable[[str, dict[str, Any]], dict[str, Any]]


def tagging_region(authorization: str) -> str | None:
    """The region of a request signed for the ``tagging`` service, None for any other."""
    match = _SCOPE_RE.search(authorization)
    return match.group(1) if match else None


class TaggingApi:
    """GetResources per account, with a switch that denies it. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._denied: set[str] = set()
        self._deny_all = False

    def reset(self) -> None:
        """Allow GetResources everywhere again."""
        with self._lock:
            self._denied.clear()
            self._deny_all = False

    def deny(self, denied: bool = True, account: str | None = None) -> None:
        """Answer GetResources with AccessDeniedException (in ``account``, or in every one)."""
        with self._lock:
            if account is None:
                self._deny_all = denied
                if not denied:
                    self._denied.clear()
            elif denied:
                self._denied.add(account)
            else:
                self._denied.discard(account)

    def handler(self, acm: StrictAcm, api: str) -> Handler:
        """What answers ``api`` for the account ``acm`` holds (run inside ``acm.handle``)."""
        if api != "GetResources":

            def unknown(region: str, params: dict[str, Any]) -> dict[str, Any]:
                raise AcmError("UnknownOperationException", f"{api} is not emulated")

            return unknown
        return lambda region, params: self._get_resources(acm, region, params)

    def _get_resources(self, acm: StrictAcm, region: str, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            denied = self._deny_all or acm.account_id in self._denied
        if denied:
            raise AcmError(
                "AccessDeniedException",
                f"User is not authorized to perform: tag:GetResources in account {acm.account_id}",
            )
        if params.get("ResourceARNList") and (
            params.get("TagFilters") or params.get("ResourceTypeFilters")
        ):
            raise AcmError(
                "InvalidParameterException",
                "ResourceARNList cannot be combined with TagFilters or ResourceTypeFilters",
            )
        per_page = int(params.get("ResourcesPerPage") or MAX_PER_PAGE)
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise AcmError(
                "InvalidParameterException", f"ResourcesPerPage must be 1 to {MAX_PER_PAGE}"
            )
        start = _offset(params.get("PaginationToken"))
        types = params.get("ResourceTypeFilters") or []
        filters = _filters(params.get("TagFilters") or [])
        arns = params.get("ResourceARNList")
        matching = []
        if not types or any(t in _TYPES for t in types):
            for cert in acm.certificates(region, acm.account_id):
                tags: dict[str, str] = cert["tags"]
                if not tags or (arns is not None and cert["arn"] not in arns):
                    continue  # GetResources never returns untagged resources
                if all(k in tags and (not vs or tags[k] in vs) for k, vs in filters):
                    matching.append(
                        {
                            "ResourceARN": cert["arn"],
                            "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
                        }
                    )
        result: dict[str, Any] = {"ResourceTagMappingList": matching[start : start + per_page]}
        more = start + per_page < len(matching)
        # AWS answers an empty token on the last page.
        result["PaginationToken"] = (
            base64.b64encode(f"tagging:{start + per_page}".encode()).decode() if more else ""
        )
        return result


def _offset(token: object) -> int:
    if not token:
        return 0
    try:
        kind, _, offset = base64.b64decode(str(token)).decode().partition(":")
        if kind != "tagging":
            raise ValueError(kind)
        return int(offset)
    except ValueError:
        raise AcmError("InvalidParameterException", "PaginationToken is not valid") from None


def _filters(raw: object) -> list[tuple[str, frozenset[str]]]:
    if not isinstance(raw, list) or len(raw) > 50:
        raise AcmError("InvalidParameterException", "TagFilters: at most 50 keys")
    out = []
    for entry in raw:
        if not isinstance(entry, dict) or not entry.get("Key"):
            raise AcmError("InvalidParameterException", "each TagFilter needs a Key")
        values = entry.get("Values") or []
        if len(values) > 20:
            raise AcmError("InvalidParameterException", "TagFilters: at most 20 values a key")
        out.append((str(entry["Key"]), frozenset(str(v) for v in values)))
    return out
