"""AWS region names and certificate ARNs: syntax only, no network and no region list.

A fixed list of regions would reject every region AWS opens after a release, so the check is
syntactic: ``<area>-<direction>-<number>`` with optional partition words (``us-gov-west-1``,
``us-isob-east-1``, ``cn-north-1``, ``eusc-de-east-1``). The engine also refuses regions that the
installed botocore knows no ACM endpoint for (``acm_sync.aws.region_table``).
"""

from __future__ import annotations

import re

# The area is two letters, or four in sovereign partitions (``eusc-de-east-1``).
_REGION_RE = re.compile(r"^[a-z]{2,4}(?:-[a-z]+){1,3}-[0-9]{1,2}$")
# arn:<partition>:acm:<region>:<12-digit account>:certificate/<id>
_ARN_RE = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):acm:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12})"
    r":certificate/(?P<id>[A-Za-z0-9-]{1,128})$"
)


def validate_region(name: str) -> str | None:
    """Return a human-readable problem with the region name, or None when it looks valid."""
    if not name:
        return "region name is empty"
    if name != name.strip() or name.lower() != name:
        return f"region {name!r} must be lower case without spaces (for example us-east-1)"
    if not _REGION_RE.match(name):
        return f"{name!r} is not an AWS region name (expected something like eu-west-1)"
    return None


def region_of_arn(arn: str) -> str | None:
    """The region an ACM certificate ARN lives in, or None when ``arn`` is not one."""
    match = _ARN_RE.match(arn)
    if match is None:
        return None
    region = match.group("region")
    return region if validate_region(region) is None else None
