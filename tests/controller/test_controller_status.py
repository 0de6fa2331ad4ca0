"""Status building: conditions move only on a flip, the patch is empty when nothing changed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from acm_sync.controller.sync import statusfields as st
from acm_sync.controller.sync.gauges import region_gauges
from acm_sync.core.state import RegionOutcome, RegionState

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _outcome(
    region: str, state: RegionState = RegionState.SYNCED, reason: str = "Synced"
) -> RegionOutcome:
    return RegionOutcome(
        region=region,
        state=state,
        reason=reason,
        message=f"{reason} in {region}",
        arn=f"arn:aws:acm:{region}:123456789012:certificate/abc",
        fingerprint="ab" * 32,
        imported_at=T0,
    )


def test_transition_time_changes_only_when_the_status_flips() -> None:
    first = st.condition("Ready", "True", "Synced", "ok", 1, None, T0)
    later = T0 + timedelta(hours=1)
    same = st.condition("Ready", "True", "Synced", "still ok", 2, first, later)
    assert same["lastTransitionTime"] == first["lastTransitionTime"]
    flipped = st.condition("Ready", "False", "AwsError", "boom", 2, same, later)
    assert flipped["lastTransitionTime"] == st.format_time(later)


def test_unchanged_status_gives_an_empty_patch() -> None:
    entry = st.region_entry(_outcome("us-east-1"), None, T0)
    old = {"regions": [entry], "fingerprint": "ab" * 32}
    again = st.region_entry(_outcome("us-east-1"), entry, T0 + timedelta(minutes=5))
    assert again == entry  # lastSyncTime did not move: nothing happened
    assert st.merge_patch(old, {"regions": [again], "fingerprint": "ab" * 32}) == {}


def test_removed_status_keys_are_nulled_in_the_patch() -> None:
    assert st.merge_patch({"a": 1, "b": 2}, {"a": 1}) == {"b": None}


def test_a_write_moves_last_sync_time() -> None:
    entry = st.region_entry(_outcome("us-east-1"), None, T0)
    wrote = replace(_outcome("us-east-1"), wrote=True)
    later = T0 + timedelta(minutes=5)
    assert st.region_entry(wrote, entry, later)["lastSyncTime"] == st.format_time(later)


def test_partial_success_is_partially_synced_and_names_the_failing_region() -> None:
    verdict = st.verdict_from_outcomes(
        [_outcome("us-east-1"), _outcome("eu-west-1", RegionState.ERROR, "AccessDenied")]
    )
    assert (verdict.ready, verdict.reason) == (False, "PartiallySynced")
    assert "eu-west-1: AccessDenied" in verdict.message


def test_blocked_region_explains_more_than_a_transient_error() -> None:
    verdict = st.verdict_from_outcomes(
        [
            _outcome("eu-west-1", RegionState.ERROR, "Throttled"),
            _outcome("us-east-1", RegionState.BLOCKED, "ReimportKeyChange"),
        ]
    )
    assert verdict.reason == "ReimportKeyChange"


def test_expiring_condition_threshold() -> None:
    soon = st.expiring_condition(T0 + timedelta(days=10), 30, 1, None, T0)
    assert (soon["status"], soon["reason"]) == ("True", "ExpiresSoon")
    far = st.expiring_condition(T0 + timedelta(days=90), 30, 1, None, T0)
    assert far["status"] == "False"
    assert st.expiry_state(T0 + timedelta(days=10), 30, T0) == ("True", "ExpiresSoon")
    assert st.expiry_state(None, 30, T0) is None


def test_an_expired_certificate_is_expiring_with_reason_expired() -> None:
    gone = st.expiring_condition(T0 - timedelta(days=1), 30, 1, None, T0)
    assert (gone["status"], gone["reason"]) == ("True", "Expired")
    assert st.expiry_state(T0 - timedelta(seconds=1), 30, T0) == ("True", "Expired")


def test_expiry_follows_what_acm_serves_not_the_secret() -> None:
    status = {
        "secret": {"fingerprint": "new", "notAfter": "2027-01-01T00:00:00Z"},
        "regions": [
            {
                "region": "us-east-1",
                "arn": "a1",
                "fingerprint": "old",
                "notAfter": "2026-06-06T00:00:00Z",
                "state": "Blocked",
                "reason": "ReimportKeyChange",
            },
            {
                "region": "eu-west-1",
                "arn": "a2",
                "fingerprint": "new",
                "notAfter": "2027-01-01T00:00:00Z",
                "state": "Synced",
                "reason": "Reimported",
            },
        ],
    }
    assert st.expiry_basis(status) == datetime(2026, 6, 6, tzinfo=UTC)
    gauges = region_gauges(status, "ReimportKeyChange")
    assert gauges[("", "us-east-1")][1:] == (False, "ReimportKeyChange")
    assert gauges[("", "eu-west-1")][1:] == (True, "Synced")
    # Nothing in ACM yet: the Secret's own date is all there is to warn about.
    assert st.expiry_basis({"secret": status["secret"]}) == datetime(2027, 1, 1, tzinfo=UTC)


def test_records_round_trip_through_the_status() -> None:
    outcome = _outcome("us-east-1")
    entry = st.region_entry(outcome, None, T0)
    record = st.pair_records({"regions": [entry]})[("", "us-east-1")]
    assert record == outcome.record()


def test_managed_tag_keys_survive_the_round_trip_through_the_status() -> None:
    outcome = replace(_outcome("us-east-1"), managed_tag_keys=("CostCenter", "team"))
    entry = st.region_entry(outcome, None, T0)
    assert entry["managedTagKeys"] == ["CostCenter", "team"]
    record = st.pair_records({"regions": [entry]})[("", "us-east-1")]
    assert record.managed_tag_keys == ("CostCenter", "team")
    # "none applied" is remembered, unlike a status written before the field existed.
    none_applied = st.region_entry(replace(outcome, managed_tag_keys=()), None, T0)
    assert st.pair_records({"regions": [none_applied]})[("", "us-east-1")].managed_tag_keys == ()
    old = {k: v for k, v in entry.items() if k != "managedTagKeys"}
    assert st.pair_records({"regions": [old]})[("", "us-east-1")].managed_tag_keys is None


def test_learning_the_managed_tag_keys_updates_the_entry() -> None:
    old = st.region_entry(_outcome("us-east-1"), None, T0)
    learnt = replace(_outcome("us-east-1"), managed_tag_keys=("team",))
    assert st.region_entry(learnt, old, T0 + timedelta(minutes=5))["managedTagKeys"] == ["team"]
