"""ACM's tag rules, the reserved prefixes, and the hash that lets an unchanged tag set cost
no AWS call.

Source: https://docs.aws.amazon.com/acm/latest/userguide/tags-restrictions.html
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from acm_sync.core.state import OWNER_TAG, RESERVED_TAG_PREFIXES

MAX_TAGS = 50
MAX_KEY_LENGTH = 127
MAX_VALUE_LENGTH = 255
# Every certificate acm-sync creates carries managed-by, cluster and owner.
SYSTEM_TAG_COUNT = 3
MAX_USER_TAGS = MAX_TAGS - SYSTEM_TAG_COUNT
_ALLOWED_PUNCTUATION = frozenset("_.:/=+-@ ")


def _bad_characters(text: str) -> str:
    """The characters ACM refuses in a tag: anything but letters, digits, spaces, _.:/=+-@."""
    bad = {c for c in text if not (c.isalpha() or c.isdigit() or c in _ALLOWED_PUNCTUATION)}
    return "".join(sorted(bad))


def validate_tags(tags: Mapping[str, str]) -> list[str]:
    """Human-readable problems with user tags; an empty list means ACM will accept them.

    User tags share the 50-tag budget with acm-sync's three system tags, and may not use the
    reserved prefixes ``aws:`` (AWS's) or ``acmsync.io/`` (ours, so that a user tag cannot
    forge ownership).
    """
    problems: list[str] = []
    if len(tags) > MAX_USER_TAGS:
        problems.append(
            f"{len(tags)} tags given; at most {MAX_USER_TAGS} are allowed "
            f"(ACM's limit is {MAX_TAGS}, and acm-sync adds {SYSTEM_TAG_COUNT} of its own)"
        )
    for key, value in tags.items():
        if not key:
            problems.append("a tag key is empty")
            continue
        if len(key) > MAX_KEY_LENGTH:
            problems.append(f"tag key {key[:40]!r}... is longer than {MAX_KEY_LENGTH} characters")
        for prefix in RESERVED_TAG_PREFIXES:
            if key.lower().startswith(prefix):
                problems.append(f"tag key {key!r} uses the reserved prefix {prefix!r}")
        if bad := _bad_characters(key):
            problems.append(f"tag key {key!r} contains characters ACM refuses: {bad!r}")
        if len(value) > MAX_VALUE_LENGTH:
            problems.append(f"the value of tag {key!r} is longer than {MAX_VALUE_LENGTH} chars")
        if bad := _bad_characters(value):
            problems.append(f"the value of tag {key!r} contains characters ACM refuses: {bad!r}")
    return problems


def tags_hash(tags: Mapping[str, str]) -> str:
    """A short, order-independent digest of a complete tag set (recorded in the status)."""
    canonical = json.dumps(sorted(tags.items()), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def tag_delta(
    desired: Mapping[str, str], observed: Mapping[str, str]
) -> tuple[dict[str, str], tuple[str, ...]]:
    """What to add (or overwrite) and which keys to remove so ``observed`` becomes ``desired``.

    acm-sync owns the whole tag set of the certificates it manages; only ``aws:`` tags, which
    no API call may change, are left alone.
    """
    add = {k: v for k, v in desired.items() if observed.get(k) != v}
    remove = tuple(
        sorted(k for k in observed if k not in desired and not k.lower().startswith("aws:"))
    )
    return add, remove


def owner_of(tags: Mapping[str, str]) -> str | None:
    """The owner tag's value, or None for a certificate acm-sync did not create."""
    return tags.get(OWNER_TAG)
