"""ACM's tag rules, the reserved prefixes, and the hash that lets an unchanged tag set cost
no AWS call.

Source: https://docs.aws.amazon.com/acm/latest/userguide/tags-restrictions.html
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping

from acm_sync.core.state import OWNER_TAG, RESERVED_TAG_PREFIXES

MAX_TAGS = 50
MAX_KEY_LENGTH = 127
MAX_VALUE_LENGTH = 255
# Every certificate acm-sync creates carries managed-by, cluster and owner.
SYSTEM_TAG_COUNT = 3
_ALLOWED_PUNCTUATION = frozenset("_.:/=+-@ ")
SYSTEM_TAG_PREFIX = "acmsync.io/"


def _bad_characters(text: str) -> str:
    """The characters ACM refuses in a tag: anything but letters, digits, spaces, _.:/=+-@."""
    bad = {c for c in text if not (c.isalpha() or c.isdigit() or c in _ALLOWED_PUNCTUATION)}
    return "".join(sorted(bad))


def validate_tags(tags: Mapping[str, str], *, with_targets: bool = False) -> list[str]:
    """Human-readable problems with user tags; an empty list means ACM will accept them.

    User tags share the 50-tag budget with acm-sync's three system tags, and with the
    ``acmsync.io/target`` tag on the certificates imported through an AcmTarget
    (``with_targets``), and may not use the reserved prefixes ``aws:`` (AWS's) or
    ``acmsync.io/`` (ours, so that a user tag cannot forge ownership).
    """
    problems: list[str] = []
    own = SYSTEM_TAG_COUNT + (1 if with_targets else 0)
    if len(tags) > MAX_TAGS - own:
        problems.append(
            f"{len(tags)} tags given; at most {MAX_TAGS - own} are allowed "
            f"(ACM's limit is {MAX_TAGS}, and acm-sync adds {own} of its own"
            + (", the target tag included)" if with_targets else ")")
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
    desired: Mapping[str, str],
    observed: Mapping[str, str],
    managed_keys: Collection[str] | None = None,
) -> tuple[dict[str, str], tuple[str, ...]]:
    """What to add (or overwrite) and which keys to remove so ``observed`` holds ``desired``.

    Only user tags acm-sync applied itself (``managed_keys``, recorded by earlier syncs) are
    removed. Tags someone else set, e.g. on a certificate adopted with ``CostCenter`` or
    ``Name`` tags, are kept; ``managed_keys=None`` (nothing recorded) removes no user tag.
    acm-sync's own ``acmsync.io/`` tags are always set, never removed (the IAM policy forbids
    it, so that ownership cannot be dropped), and ``aws:`` tags no API call may change.
    """
    add = {k: v for k, v in desired.items() if observed.get(k) != v}
    ours = set(managed_keys or ()) - set(desired)
    remove = tuple(
        sorted(k for k in observed if k in ours and not is_system_tag(k) and not is_aws_tag(k))
    )
    return add, remove


def is_system_tag(key: str) -> bool:
    """Whether ``key`` is one of acm-sync's own tags (``acmsync.io/...``)."""
    return key.lower().startswith(SYSTEM_TAG_PREFIX)


def is_aws_tag(key: str) -> bool:
    """Whether ``key`` is reserved by AWS (``aws:...``): no API call may change it."""
    return key.lower().startswith("aws:")


def user_tag_keys(tags: Mapping[str, str]) -> tuple[str, ...]:
    """The sorted keys of ``tags`` that are neither acm-sync's nor AWS's (for the record)."""
    return tuple(sorted(k for k in tags if not is_system_tag(k) and not is_aws_tag(k)))


def owner_of(tags: Mapping[str, str]) -> str | None:
    """The owner tag's value, or None for a certificate acm-sync did not create."""
    return tags.get(OWNER_TAG)
