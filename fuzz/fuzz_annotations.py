"""Secret annotations: ``SecretMeta.of`` and ``desired_spec`` take any annotation values and
either give a spec or raise AnnotationError (the InvalidAnnotations Event)."""

from __future__ import annotations

import atheris

from fuzz.harness import instrumented, main

with instrumented():
    from acm_sync.controller.watch.annotations import (
        DELETION_POLICY_ANNOTATION,
        REGIONS_ANNOTATION,
        TAGS_ANNOTATION,
        TARGETS_ANNOTATION,
        AnnotationError,
        SecretMeta,
        desired_spec,
    )

DOCUMENTED: tuple[type[BaseException], ...] = (AnnotationError,)
NAMES = [REGIONS_ANNOTATION, TAGS_ANNOTATION, DELETION_POLICY_ANNOTATION, TARGETS_ANNOTATION]
PIECES = [
    "us-east-1",
    "eu-west-1",
    ",",
    ";",
    "=",
    "+",
    " ",
    "team",
    "aws:",
    "acmsync.io/",
    "Delete",
]


def _text(fdp: atheris.FuzzedDataProvider) -> str:
    if fdp.ConsumeBool():
        return str(fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 80)))
    return "".join(fdp.PickValueInList(PIECES) for _ in range(fdp.ConsumeIntInRange(0, 16)))


def test_one(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    annotations = {name: _text(fdp) for name in NAMES if fdp.ConsumeBool()}
    body = {"type": "kubernetes.io/tls", "metadata": {"name": "web", "annotations": annotations}}
    meta = SecretMeta.of(body)
    if meta.wants_certificate:
        spec = desired_spec(meta)
        assert spec["secretName"] == "web"


def seeds() -> list[bytes]:
    return [b"\x01\x00\x08\x00\x01\x02\x03", b"\xff" * 32]


main(__name__, test_one, DOCUMENTED)
