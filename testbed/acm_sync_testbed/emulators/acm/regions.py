"""The regions ACM has an endpoint in, according to the installed botocore's endpoint data.

Real AWS has no endpoint at all for a region that does not exist (``acm.us-east-7.amazonaws.com``
does not resolve), which a single emulator endpoint cannot reproduce. The emulator answers what
AWS answers a request signed for a region the endpoint does not serve instead: HTTP 400
``InvalidSignatureException`` "Credential should be scoped to a valid region". Either way the
request fails every time and nothing is stored.
"""

from __future__ import annotations

# The same endpoint data the operator's engine consults, so the two can never disagree.
from acm_sync.aws.regions import acm_regions

__all__ = ["acm_regions", "unknown_region_message"]


def unknown_region_message(region: str) -> str:
    """The error message for a request signed for ``region`` when ACM is not there."""
    return f"Credential should be scoped to a valid region, not '{region}'."
