"""Events and log lines: one Event per fact, and each Event once in the log, each fact once."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from acm_sync.controller.platform.redaction import configure_logging
from acm_sync.controller.sync import notices as nt
from acm_sync.controller.sync import statusfields as st
from acm_sync.core.state import RegionOutcome, RegionState

NOW = datetime(2026, 6, 1, tzinfo=UTC)
ARN = "arn:aws:acm:eu-west-1:222233334444:certificate/0f6a1f3e-1c1b-4a55-9d1a-1a2b3c4d5e6f"


def test_an_expired_certificate_gets_one_expired_event_not_two() -> None:
    # Ready (the Secret's certificate is refused as Expired) and Expiring (reason Expired) say
    # the same thing; a user reading `kubectl describe` wants it said once.
    ready = st.condition("Ready", "False", "Expired", "the certificate expired", 1, None, NOW)
    expiring = st.expiring_condition(NOW - timedelta(days=1), 30, 1, None, NOW)
    assert expiring["reason"] == "Expired"
    events = nt.condition_events({}, {"Ready": ready, "Expiring": expiring})
    assert [(e.type, e.reason) for e in events] == [("Warning", "Expired")]


def test_expiring_soon_still_gets_its_own_event_beside_ready() -> None:
    ready = st.condition("Ready", "True", "Synced", "imported in us-east-1", 1, None, NOW)
    expiring = st.expiring_condition(NOW + timedelta(days=3), 30, 1, None, NOW)
    events = nt.condition_events({}, {"Ready": ready, "Expiring": expiring})
    assert [(e.type, e.reason) for e in events] == [
        ("Normal", "Synced"),
        ("Warning", "ExpiresSoon"),
    ]
    # And ExpiresSoon -> Expired while Ready stays Synced (ACM serves the expired certificate).
    later = st.expiring_condition(NOW - timedelta(days=1), 30, 1, expiring, NOW)
    events = nt.condition_events(
        {"Ready": ready, "Expiring": expiring}, {"Ready": ready, "Expiring": later}
    )
    assert [(e.type, e.reason) for e in events] == [("Warning", "Expired")]


@pytest.fixture
def log_stream() -> Iterator[tuple[io.StringIO, list[logging.Handler]]]:
    """The root logger's handlers are put back after the test reconfigures logging."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    yield stream, handlers
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def _failed_pair() -> nt.Notice:
    outcome = RegionOutcome(
        "eu-west-1", RegionState.ERROR, "AccessDenied", "denied", arn=ARN, target="edge"
    )
    synced = RegionOutcome("us-east-1", RegionState.SYNCED, "Synced", "ok")
    ready = nt.Notice("Warning", "AccessDenied", "edge/eu-west-1: AccessDenied: denied")
    [located] = nt.with_accounts([nt.at_failing_pairs(ready, [synced, outcome])], {})
    return located


def test_a_warning_is_a_warning_line_naming_each_fact_once(
    log_stream: tuple[io.StringIO, list[logging.Handler]],
) -> None:
    stream, _ = log_stream
    configure_logging("INFO", "text", stream=stream)
    nt.log_notice("shop", "web", _failed_pair())
    [line] = stream.getvalue().splitlines()
    assert " WARNING " in line
    assert "AcmCertificate shop/web: AccessDenied: edge/eu-west-1: AccessDenied: denied" in line
    assert line.count(ARN) == 1
    # The ARN names the account, the message the target and region: none is said again.
    assert line.count("222233334444") == 1
    assert "account=" not in line
    assert "region=" not in line
    assert "target=" not in line

    stream.truncate(0)
    stream.seek(0)
    imported = nt.Notice(
        "Normal", "Imported", f"Imported into {ARN} in eu-west-1", "eu-west-1", ARN
    )
    nt.log_notice("shop", "web", imported)
    [line] = stream.getvalue().splitlines()
    assert " INFO " in line
    assert line.count(ARN) == 1
    assert line.endswith(f"Imported into {ARN} in eu-west-1")


def test_the_json_format_gives_each_fact_as_a_field(
    log_stream: tuple[io.StringIO, list[logging.Handler]],
) -> None:
    stream, _ = log_stream
    configure_logging("INFO", "json", stream=stream)
    nt.log_notice("shop", "web", _failed_pair())
    [line] = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "WARNING"
    assert {k: record[k] for k in ("kind", "namespace", "name", "reason")} == {
        "kind": "AcmCertificate",
        "namespace": "shop",
        "name": "web",
        "reason": "AccessDenied",
    }
    assert (record["target"], record["account"], record["region"], record["arn"]) == (
        "edge",
        "222233334444",
        "eu-west-1",
        ARN,
    )
    assert record["message"] == "edge/eu-west-1: AccessDenied: denied"


def test_key_material_in_a_notice_is_redacted_in_every_field(
    log_stream: tuple[io.StringIO, list[logging.Handler]],
) -> None:
    stream, _ = log_stream
    configure_logging("INFO", "json", stream=stream)
    pem = "\n".join(
        [
            "-----BEGIN PRIVATE KEY-----",
            "MIGHAgEAMBMGByqGSM49AwEHBG0wawIBAQQg",
            "-----END PRIVATE KEY-----",
        ]
    )
    nt.log_notice("shop", "web", nt.Notice("Warning", "KeyMismatch", f"bad key {pem}"))
    assert "PRIVATE KEY" not in stream.getvalue()
    assert json.loads(stream.getvalue())["message"] == "bad key [REDACTED]"


def test_a_retired_previous_arn_is_said_once_and_the_key_change_says_it_is_gone() -> None:
    old = ARN.replace("0f6a1f3e", "00000000")
    # The same pass imported the new key's ARN and deleted the previous one (nothing named it).
    both = RegionOutcome(
        "eu-west-1", RegionState.SYNCED, "ImportedNewKey", "imported", ARN, wrote=True, retired=old
    )
    notices = nt.sync_notices([both], {})
    assert [n.reason for n in notices] == ["PreviousDeleted", "Imported", "KeyTypeChanged"]
    assert old in notices[0].message
    assert notices[0].arn == old
    assert "was deleted" in notices[2].message
    assert "still in ACM" not in notices[2].message
    # A later pass that only deleted it (the consumer switched): that alone.
    later = RegionOutcome(
        "eu-west-1", RegionState.SYNCED, "Synced", "in sync", ARN, wrote=True, retired=old
    )
    assert [n.reason for n in nt.sync_notices([later], {})] == ["PreviousDeleted"]
