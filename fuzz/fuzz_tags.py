"""Tag rules: ``validate_tags``, ``tags_hash`` and ``tag_delta`` take any strings, never raise."""

from __future__ import annotations

import atheris

from fuzz.harness import instrumented, main

with instrumented():
    from acm_sync.core.tags import tag_delta, tags_hash, validate_tags

DOCUMENTED: tuple[type[BaseException], ...] = ()


def _tags(fdp: atheris.FuzzedDataProvider) -> dict[str, str]:
    count = fdp.ConsumeIntInRange(0, 60)
    return {
        fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 140)): fdp.ConsumeUnicode(16)
        for _ in range(count)
    }


def test_one(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    desired, observed = _tags(fdp), _tags(fdp)
    problems = validate_tags(desired)
    assert all(isinstance(p, str) for p in problems)
    if not problems:
        # Only validated tags are hashed: a lone surrogate (which JSON can spell) is refused
        # by validate_tags and could not be encoded.
        tags_hash(desired)
    _, remove = tag_delta(desired, observed, list(observed)[: fdp.ConsumeIntInRange(0, 5)])
    assert not set(remove) & set(desired)


def seeds() -> list[bytes]:
    return [b"\x02team\x00web\x00aws:x\x00y", b"\x01" + "ü".encode() * 40]


main(__name__, test_one, DOCUMENTED)
