"""Wiring input on an Ingress or Service: the ``acmsync.io/wired`` record, the
``acmsync.io/certificates`` list and the load balancer annotation, all written by whoever may
edit the object. ``Wired.read``, ``parse_names`` and ``plan_wiring`` take anything and never
raise; a record read back is one acm-sync could have written, and a plan never writes more
ARNs than a load balancer serves."""

from __future__ import annotations

import json

import atheris

from fuzz.harness import instrumented, main

with instrumented():
    from acm_sync.core.limits import DEFAULT_WIRING_LIMITS
    from acm_sync.core.wiring import PairState, Wired, parse_names, plan_wiring, valid_name

DOCUMENTED: tuple[type[BaseException], ...] = ()
ARN = "arn:aws:acm:eu-west-1:123456789012:certificate/"
PIECES = ['{"value":', '"names":', '"earlier":', '"at":', "[", "]", "{", "}", ",", ":", '"a"',
          '"b"', "null", "1", '"2026-12-07T10:00:00Z"', f'"{ARN}x"', ARN, "a", " "]  # fmt: skip


def _text(fdp: atheris.FuzzedDataProvider) -> str:
    if fdp.ConsumeBool():
        return str(fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 200)))
    return "".join(fdp.PickValueInList(PIECES) for _ in range(fdp.ConsumeIntInRange(0, 40)))


def test_one(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    limit = DEFAULT_WIRING_LIMITS.certificates
    wired, problem = Wired.read(_text(fdp) if fdp.ConsumeBool() else None)
    if wired is not None:
        assert problem is None
        assert len(wired.names) <= limit
        assert all(valid_name(n) for n in wired.names)
        assert Wired.read(wired.to_text())[0] == wired
    names = parse_names(_text(fdp), limit + 1)
    assert len(names) <= limit + 1
    current = _text(fdp) if fdp.ConsumeBool() else None
    states = {n: PairState(f"{ARN}{n}", fdp.ConsumeBool()) for n in names if fdp.ConsumeBool()}
    plan = plan_wiring(names, current, wired, states, "k", "2026-12-07T10:00:00Z")
    if plan.write and plan.wired is not None:
        assert len(plan.wired.names) <= limit
        assert Wired.read(plan.wired.to_text())[0] == plan.wired
    json.dumps([m for _, m in plan.blocked])


def seeds() -> list[bytes]:
    return [b"\x01\x00\x08\x00\x01\x02\x03", b"\xff" * 32, b"\x00\x01" * 40]


main(__name__, test_one, DOCUMENTED)
