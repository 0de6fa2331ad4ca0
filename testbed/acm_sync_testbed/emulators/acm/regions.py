"""The regions ACM has an endpoint in, according to the installed botocore's endpoint data.

Real AWS has no endpoint at all for a region that does not exist (``acm.us-east-7.amazonaws.com``
does not resolve), which a single emulator endpoint cannot reproduce. The emulator answers what
AWS answers a request signed for a region the endpoint does not serve instead: HTTP 400
``InvalidSignatureException`` "Credential should be scoped to a valid region". Either way the
request fails every time and nothing is stored.
"""

from __future__ import annotations

import re
from functools import cache

import boto3

# arn:<partition>:acm:<region>:<account>:certificate/<id>
_ARN_RE = re.compile(
    r"arn:aws[a-z-]*:acm:(?P<region>[a-z]{2}(-[a-z]+)+-[0-9]+):[0-9]{12}:certificate/[^/\s]+"
)


@cache
def acm_regions() -> frozenset[str]:
    """Every region of every partition (aws, aws-cn, aws-us-gov, ISO, ...) with ACM.

    Read from botocore's own endpoint data rather than from the operator's AWS adapter, so
    the emulator stays an independent judge of the operator.
    """
    session = boto3.session.Session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("acm", partition_name=partition)
    )


def region_of_arn(arn: str) -> str | None:
    """The region of an ACM certificate ARN, or None when ``arn`` is not one."""
    match = _ARN_RE.fullmatch(arn)
    return match.group("region") if match else None


def unknown_region_message(region: str) -> str:
    """The error message for a request signed for ``region`` when ACM is not there."""
    return f"Credential should be scoped to a valid region, not '{region}'."
