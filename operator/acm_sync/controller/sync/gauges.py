"""The per-region gauge values a status implies: what ACM serves, and whether it is the Secret's.

Read from the status as written (not from the sync that wrote it), so a restarted operator
exports the same series from the statuses it finds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from acm_sync.controller.sync.statusfields import parse_time
from acm_sync.controller.sync.statuslayout import unpack
from acm_sync.core.reasons import Reason
from acm_sync.core.state import RegionState


def region_gauges(
    status: Mapping[str, Any], ready_reason: str, *, secret_known: bool = True
) -> dict[tuple[str, str], tuple[float | None, bool, str]]:
    """(account, region) -> (notAfter ACM serves, whether it is the Secret's certificate,
    reason); the account is '' where the status has none recorded yet.

    The reason of a region that is fine in itself (state Synced) but does not hold the
    Secret's certificate is the Ready reason: the Secret is the problem (Expired, ...).
    """
    status = unpack(status)
    secret = status.get("secret")
    current = secret.get("fingerprint") if isinstance(secret, dict) and secret_known else None
    gauges: dict[tuple[str, str], tuple[float | None, bool, str]] = {}
    for entry in status.get("regions") or []:
        region = entry.get("region") if isinstance(entry, dict) else None
        if not isinstance(region, str):
            continue
        not_after = parse_time(entry.get("notAfter")) if entry.get("arn") else None
        region_ok = entry.get("state") == RegionState.SYNCED.value
        synced = (
            region_ok
            and bool(entry.get("arn"))
            and current is not None
            and entry.get("fingerprint") == current
        )
        reason = (
            Reason.SYNCED if synced else ready_reason if region_ok else str(entry.get("reason"))
        )
        account = str(entry.get("account") or "")
        gauges[(account, region)] = (not_after.timestamp() if not_after else None, synced, reason)
    return gauges
