"""Which regions have an ACM endpoint, according to the installed botocore.

The core checks region names by syntax only; a well-formed name of a region that does not
exist (``us-east-7``) would otherwise be retried forever against an endpoint that never
answers. A region AWS opened after this botocore was released can still be used by listing it
in ``AwsSettings.allowed_regions`` (``--allowed-regions``): an explicit list is trusted.
"""

from __future__ import annotations

import threading

import boto3
import botocore

from acm_sync.aws.settings import AwsSettings

# Building the table parses botocore's endpoints.json (1.25 MB): each thread that met an empty
# cache did it again, +137 MB RSS with 16 reconcile threads. The lock makes it once per process.
_lock = threading.Lock()
_table: frozenset[str] | None = None


def acm_regions() -> frozenset[str]:
    """Every region of every partition (aws, aws-cn, aws-us-gov, ISO, ...) that has ACM.

    Built on first use, once per process, whatever the number of threads asking at once.
    """
    global _table
    table = _table
    if table is not None:
        return table
    with _lock:
        if _table is None:
            _table = _build()
        return _table


def _build() -> frozenset[str]:
    session = boto3.session.Session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("acm", partition_name=partition)
    )


def unknown_region(region: str, settings: AwsSettings) -> str | None:
    """Why ACM cannot be reached in ``region``, or None when it can (or the operator says so)."""
    if region in acm_regions():
        return None
    if settings.allowed_regions is not None and region in settings.allowed_regions:
        return None  # explicitly allowed: trust the operator over an older botocore
    return (
        f"ACM has no endpoint in {region!r} (botocore {botocore.__version__} knows none): "
        "check the spelling; for a region newer than the operator's botocore, list it in "
        "the operator's --allowed-regions"
    )
