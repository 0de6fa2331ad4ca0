"""``acm-sync resync NAME``: ask the operator to read every pair from ACM again, now.

Sets the ``acmsync.io/resync-requested-at`` annotation to the current time (what
``kubectl annotate acmcert NAME acmsync.io/resync-requested-at=$(date -u +%FT%TZ) --overwrite``
does), then waits until the operator records that value in ``status.lastResync`` and prints
its answer: the ``Verified`` Event (or ``ResyncSkipped``) and the Ready condition.

Exit codes: 0 when answered and Ready, 1 when the object does not exist, is not Ready after
the pass, or no answer came in time, 2 when the cluster cannot be reached.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime

from acm_sync.clusterctl import context
from acm_sync.controller.platform.kubeapi import LAST_RESYNC, RESYNC_ANNOTATION, JsonObj
from acm_sync.controller.platform.kubeerrors import KubeError
from acm_sync.core.reasons import ConditionType, EventReason

HELP = "make the operator verify an AcmCertificate against ACM now (and repair it)"
# How long to look for the answering Event once status.lastResync shows the request handled:
# the operator posts Events right after the status write.
EVENT_GRACE = 5.0
POLL = 0.5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options."""
    context.add_arguments(parser)
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long to wait for the operator's answer (default 60)",
    )
    parser.add_argument(
        "--no-wait", action="store_true", help="only request it; do not wait for the answer"
    )


def main(args: argparse.Namespace) -> int:
    """Request the pass, and (unless --no-wait) wait for and print the answer."""
    try:
        conn = context.connect(args)
        try:
            return _resync(conn, args)
        finally:
            conn.close()
    except context.CommandError as exc:
        print(f"acm-sync resync: {exc}", file=sys.stderr)
        return context.EXIT_ERROR
    except Exception as exc:  # an unreachable API server, TLS trouble: one line, no traceback
        print(f"acm-sync resync: cannot talk to the Kubernetes API: {exc}", file=sys.stderr)
        return context.EXIT_ERROR


def _resync(conn: context.Connection, args: argparse.Namespace) -> int:
    where = f"AcmCertificate {conn.namespace}/{args.name}"
    if conn.get_acmcert(args.name) is None:
        print(f"acm-sync resync: {where} not found", file=sys.stderr)
        return context.EXIT_NOT_READY
    value = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    patch = {"metadata": {"annotations": {RESYNC_ANNOTATION: value}}}
    try:
        conn.api.patch_acmcert(conn.namespace, args.name, patch)
    except KubeError as exc:
        raise context.CommandError(f"annotating {where} failed: {exc}") from None
    print(f"{where}: resync requested ({RESYNC_ANNOTATION}={value})")
    if args.no_wait:
        return 0
    deadline = time.monotonic() + args.timeout
    obj: JsonObj | None = None
    while time.monotonic() < deadline:
        obj = conn.get_acmcert(args.name)
        if obj is None:
            print(f"acm-sync resync: {where} was deleted", file=sys.stderr)
            return context.EXIT_NOT_READY
        if (obj.get("status") or {}).get(LAST_RESYNC) == value:
            break
        time.sleep(POLL)
    else:
        print(
            f"acm-sync resync: no answer from the operator within {args.timeout:g}s; is it "
            "running and leading? (kubectl logs -n acm-sync deploy/acm-sync)",
            file=sys.stderr,
        )
        return context.EXIT_NOT_READY
    answers = {EventReason.VERIFIED.value, EventReason.RESYNC_SKIPPED.value}
    event_deadline = time.monotonic() + EVENT_GRACE
    while True:
        answer = [
            e
            for e in conn.events("AcmCertificate", args.name)
            if e.get("reason") in answers and value in str(e.get("message", ""))
        ]
        if answer or time.monotonic() >= event_deadline:
            break
        time.sleep(POLL)
    for event in answer[-1:]:
        print(f"{event.get('type')} {event.get('reason')}: {event.get('message')}")
    conditions = (obj.get("status") or {}).get("conditions") or []
    ready: JsonObj = next((c for c in conditions if c.get("type") == ConditionType.READY), {})
    print(f"Ready: {ready.get('status')} {ready.get('reason')}: {ready.get('message', '')}")
    return 0 if ready.get("status") == "True" else context.EXIT_NOT_READY
