"""AcmCertificate spec parsing: ``parse_spec`` takes any JSON-shaped spec and either returns a
CertSpec or raises SpecError (the Ready reason InvalidSpec, InvalidRegion, ...)."""

from __future__ import annotations

import json
from typing import Any

import atheris

from fuzz.harness import instrumented, main

with instrumented():
    from acm_sync.controller.sync.spec import SpecError, parse_spec

DOCUMENTED: tuple[type[BaseException], ...] = (SpecError,)
FIELDS = [
    "secretName",
    "regions",
    "tags",
    "deletionPolicy",
    "onKeyChange",
    "certificateArns",
    "targets",
    "suspend",
    "target",
    "us-east-1",
]
WORDS = [
    "us-east-1",
    "eu-west-1",
    "arn:aws:acm:us-east-1:111122223333:certificate/0",
    "Retain",
    "Delete",
    "Block",
    "ImportNew",
    "aws:x",
    "",
]


def _value(fdp: atheris.FuzzedDataProvider, depth: int) -> Any:
    kind = fdp.ConsumeIntInRange(0, 7 if depth < 3 else 4)
    if kind == 0:
        return fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 40))
    if kind == 1:
        return fdp.PickValueInList(WORDS)
    if kind == 2:
        return fdp.ConsumeInt(4)
    if kind == 3:
        return fdp.ConsumeBool()
    if kind == 4:
        return None
    if kind == 5:
        return [_value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    return {
        fdp.PickValueInList(FIELDS) if fdp.ConsumeBool() else fdp.ConsumeUnicode(8): _value(
            fdp, depth + 1
        )
        for _ in range(fdp.ConsumeIntInRange(0, 5))
    }


def test_one(data: bytes) -> None:
    if data[:1] == b"{":
        try:
            spec = json.loads(data)
        except (ValueError, RecursionError):
            return
    else:
        fdp = atheris.FuzzedDataProvider(data)
        spec = {
            fdp.PickValueInList(FIELDS): _value(fdp, 0) for _ in range(fdp.ConsumeIntInRange(0, 8))
        }
    if not isinstance(spec, dict):
        return
    parse_spec(spec, allowed_regions=frozenset({"us-east-1"}) if data[-1:] == b"!" else frozenset())


def seeds() -> list[bytes]:
    specs = [
        {"secretName": "web-tls", "regions": ["us-east-1", "eu-west-1"], "tags": {"team": "web"}},
        {
            "secretName": "a",
            "regions": [],
            "targets": [{"target": "edge", "regions": ["us-east-1"]}],
        },
        {
            "secretName": "a",
            "regions": ["us-east-1"],
            "certificateArns": {"us-east-1": "arn:aws:acm:us-east-1:111122223333:certificate/x"},
            "deletionPolicy": "Delete",
            "onKeyChange": "ImportNew",
        },
    ]
    return [json.dumps(s).encode() for s in specs] + [b"\x05\x00\x01\x02"]


main(__name__, test_one, DOCUMENTED)
