"""The regions ACM has an endpoint in, according to the installed botocore's endpoint data.

Real AWS has no endpoint at all for a region that does not exist (``acm.us-east-7.amazonaws.com``
does not resolve), which a single emulator endpoint cannot reproduce. The emulator answers what
AWS answers a request signed for a region the endpoint does not serve instead: HTTP 400
``InvalidSignatureException`` "Credential should be scoped to a valid region". Either way the
request fails every time and nothing is stored.
"""

from __future__ import annotations

from functools import cache

import boto3


@cache
def acm_regions() -> frozenset[str]:
    """Every region of every partition (aws, aws-cn, aws-us-gov, ISO, ...) with ACM."""
    session = boto3.session.Session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("acm", partition_name=partition)
    )


def unknown_region_message(region: str) -> str:
    """The error message for a request signed for ``region`` when ACM is not there."""
    return f"Credential should be scoped to a valid region, not '{region}'."
