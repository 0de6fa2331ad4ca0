"""The wiring's view of Ingresses and Services: the count of those holding what acm-sync wrote
(the acmsync_wired_consumers gauge) follows every event, without recounting them all."""

from __future__ import annotations

from typing import Any

import pytest

from acm_sync.controller.wiring.consumers import (
    WIRED_ANNOTATION,
    IngressConsumer,
    ServiceConsumer,
)
from acm_sync.controller.wiring.consumerview import ConsumerView
from acm_sync.core.wiring import Wired

INGRESS, SERVICE = IngressConsumer(), ServiceConsumer()
ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0b9c8e2e-1111-4222-8333-444455556666"


def _body(name: str, version: int, value: str | None, recorded: str | None) -> dict[str, Any]:
    annotations = {"acmsync.io/certificates": "web"}
    if value is not None:
        annotations[INGRESS.annotation] = value
    if recorded is not None:
        record = Wired(value=recorded, names=("web",), at="2026-12-07T10:00:00Z")
        annotations[WIRED_ANNOTATION] = record.to_text()
    return {
        "metadata": {
            "namespace": "apps",
            "name": name,
            "uid": f"uid-{name}",
            "resourceVersion": str(version),
            "annotations": annotations,
        }
    }


def test_the_wired_count_follows_writes_hand_edits_and_deletions() -> None:
    view = ConsumerView()
    view.event(INGRESS, None, _body("a", 1, None, None))  # opted in, not wired yet
    assert view.wired_count("Ingress") == 0
    view.event(INGRESS, "MODIFIED", _body("a", 2, ARN, ARN))  # acm-sync's write
    view.event(INGRESS, None, _body("b", 3, ARN, ARN))
    assert view.wired_count("Ingress") == 2
    # Someone edited the annotation by hand: it is no longer what acm-sync wrote.
    view.event(INGRESS, "MODIFIED", _body("a", 4, "arn:aws:acm:x", ARN))
    assert view.wired_count("Ingress") == 1
    # An event older than the version kept changes nothing.
    view.event(INGRESS, "MODIFIED", _body("a", 2, ARN, ARN))
    assert view.wired_count("Ingress") == 1
    view.event(INGRESS, "DELETED", _body("b", 5, ARN, ARN))
    assert (view.wired_count("Ingress"), view.wired_count("Service")) == (0, 0)


def test_each_record_is_read_once_whatever_the_number_of_consumers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """N events read N records: the count is kept, not made again from every record on each
    event (which read N * N records: a quarter of the operator's time wiring 600 Ingresses)."""
    reads = 0
    real_read = Wired.read

    def counted(text: str | None, *args: Any) -> tuple[Wired | None, str | None]:
        nonlocal reads
        reads += 1
        return real_read(text, *args)

    monkeypatch.setattr(Wired, "read", counted)
    view = ConsumerView()
    for i in range(2000):
        view.event(INGRESS, None, _body(f"i{i}", i + 1, ARN, ARN))
        assert view.wired_count("Ingress") == i + 1
    assert reads == 2000
