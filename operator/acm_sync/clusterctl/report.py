"""What ``acm-sync status`` prints about one AcmCertificate: read, then formatted as text.

Everything comes from the Kubernetes API: the object's status (what the operator recorded of
ACM), its Events and its Secret's Events, and the Secret's name, type and presence. The Secret's
data is never kept or printed: only its metadata is taken from the response.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from acm_sync.clusterctl.context import Connection, event_time
from acm_sync.controller.platform.kubeapi import LAST_RESYNC, JsonObj, seg
from acm_sync.core.reasons import ConditionType

SECRET_EVENTS = 10
OBJECT_EVENTS = 15


@dataclass
class SecretInfo:
    """The Secret an AcmCertificate reads: name, type and whether it exists (no data)."""

    name: str
    present: bool | None  # None: the caller may not read it
    type: str = ""
    problem: str = ""


@dataclass
class Report:
    """One AcmCertificate as ``status`` shows it."""

    obj: JsonObj
    secret: SecretInfo | None
    events: list[JsonObj] = field(default_factory=list)
    secret_events: list[JsonObj] = field(default_factory=list)

    def condition(self, ctype: str) -> dict[str, Any]:
        """A condition of the object ({} when absent)."""
        for cond in (self.obj.get("status") or {}).get("conditions") or []:
            if isinstance(cond, dict) and cond.get("type") == ctype:
                return cond
        return {}

    @property
    def ready(self) -> bool:
        """Whether Ready is True."""
        return self.condition(ConditionType.READY).get("status") == "True"


def read_secret(conn: Connection, name: str) -> SecretInfo:
    """The Secret's name, type and presence; its data is dropped as soon as it arrives."""
    status, body = conn.api.request(
        "GET", f"/api/v1/namespaces/{seg(conn.namespace)}/secrets/{seg(name)}"
    )
    secret_type = str(body.get("type") or "")
    body.clear()  # the data, key included, goes no further than this line
    if status == 404:
        return SecretInfo(name, False)
    if status == 403:
        return SecretInfo(name, None, problem="you may not read Secrets here (forbidden)")
    if status != 200:
        return SecretInfo(name, None, problem=f"HTTP {status}")
    return SecretInfo(name, True, secret_type)


def gather(conn: Connection, name: str) -> Report | None:
    """Everything ``status`` shows about ``name``; None when there is no such AcmCertificate."""
    obj = conn.get_acmcert(name)
    if obj is None:
        return None
    secret_name = (obj.get("spec") or {}).get("secretName")
    secret = read_secret(conn, secret_name) if isinstance(secret_name, str) else None
    report = Report(obj, secret)
    report.events = conn.events("AcmCertificate", name)[-OBJECT_EVENTS:]
    if secret is not None:
        report.secret_events = conn.events("Secret", secret.name)[-SECRET_EVENTS:]
    return report


def _line(label: str, value: object, indent: int = 0) -> str:
    return f"{' ' * indent}{label + ':':<{20 - indent}}{value}"


def _pair_lines(entry: dict[str, Any]) -> list[str]:
    target = entry.get("target")
    where = f"{entry.get('region')}" + (f" through AcmTarget {target}" if target else "")
    account = entry.get("account")
    lines = [f"  {where}" + (f" (account {account})" if account else "")]
    state = f"{entry.get('state', '')} ({entry.get('reason', '')})"
    lines.append(_line("State", state, 4))
    lines.append(_line("ARN", entry.get("arn") or "(none)", 4))
    lines.append(_line("Serial", entry.get("serialNumber") or "-", 4))
    lines.append(_line("Not After", entry.get("notAfter") or "-", 4))
    in_use = entry.get("inUseBy") or []
    count = entry.get("inUseCount") or len(in_use)
    used = ", ".join(str(u) for u in in_use) if in_use else "nothing"
    if count > len(in_use):
        used += f" (and {count - len(in_use)} more)"
    lines.append(_line("In Use By", used, 4))
    lines.append(_line("Last Sync", entry.get("lastSyncTime") or "-", 4))
    if entry.get("previousArn"):
        lines.append(_line("Previous ARN", entry["previousArn"], 4))
    if entry.get("message"):
        lines.append(_line("Message", entry["message"], 4))
    return lines


def _event_lines(events: Sequence[JsonObj]) -> list[str]:
    if not events:
        return ["  (none)"]
    return [
        f"  {event_time(e) or '-'}  {e.get('type', '')}  {e.get('reason', '')}  "
        f"{e.get('message', '')}"
        for e in events
    ]


def render(report: Report) -> str:
    """The text ``acm-sync status`` prints."""
    obj = report.obj
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    lines = [
        _line("Name", meta.get("name")),
        _line("Namespace", meta.get("namespace")),
    ]
    ready = report.condition(ConditionType.READY)
    if ready:
        lines.append(_line(ConditionType.READY, f"{ready.get('status')} {ready.get('reason')}"))
        if ready.get("message"):
            lines.append(_line("Message", ready.get("message")))
    else:
        lines.append(_line(ConditionType.READY, "not reported yet (is the operator running?)"))
    secret = report.secret
    if secret is not None:
        if secret.present:
            shown = f"{secret.name} (type {secret.type}, present)"
        elif secret.present is False:
            shown = f"{secret.name} (not found)"
        else:
            shown = f"{secret.name} (unknown: {secret.problem})"
        lines.append(_line("Secret", shown))
    if spec.get("suspend"):
        lines.append(_line("Suspend", "true (spec.suspend: no AWS call is made)"))
    lines.append(_line("Not After", status.get("notAfter") or "-"))
    if status.get(LAST_RESYNC):
        lines.append(_line("Last Resync", status[LAST_RESYNC]))
    lines.append("Conditions:")
    for cond in status.get("conditions") or []:
        text = f"  {cond.get('type')}: {cond.get('status')} {cond.get('reason', '')}"
        message = cond.get("message")
        lines.append(text + (f": {message}" if message else ""))
    if not status.get("conditions"):
        lines.append("  (none)")
    lines.append("Regions:")
    entries = [e for e in status.get("regions") or [] if isinstance(e, dict)]
    for entry in entries:
        lines.extend(_pair_lines(entry))
    if not entries:
        lines.append("  (none recorded)")
    # Wiring: where acm-sync wrote this object's ARN (beside In Use By, what ACM reports).
    consumers = [c for c in status.get("consumers") or [] if isinstance(c, dict)]
    if consumers:
        lines.append("Consumers:")
        for consumer in consumers:
            lines.append(f"  {consumer.get('kind')}/{consumer.get('name')}:")
            lines.append(_line("Annotation", consumer.get("annotation"), 4))
            lines.append(_line("ARN", f"{consumer.get('arn')} ({consumer.get('region')})", 4))
            lines.append(_line("Wired At", consumer.get("wiredAt") or "-", 4))
        if isinstance(omitted := status.get("consumersOmitted"), int) and omitted > 0:
            lines.append(f"  ... and {omitted} more (status.consumers lists at most 100)")
    lines.append(f"Events (AcmCertificate {meta.get('name')}):")
    lines.extend(_event_lines(report.events))
    if secret is not None:
        lines.append(f"Events (Secret {secret.name}):")
        lines.extend(_event_lines(report.secret_events))
    return "\n".join(lines) + "\n"
