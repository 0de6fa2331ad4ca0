"""The sweep tells acm-sync's own reimports (a record left stale) from out-of-band ones."""

from __future__ import annotations

from base64 import b64encode
from dataclasses import replace
from datetime import timedelta

from acm_sync.aws.engine import Engine
from acm_sync.core.fingerprint import fingerprint
from acm_sync.core.model import Material
from acm_sync.core.pem import parse_pem
from acm_sync.core.planner import DriftKind
from acm_sync.core.state import DesiredState, RegionRecord
from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.aws.acm_testkit import OWNER
from tests.certkit import leaf


def _desired(material: Material) -> DesiredState:
    """Desired state with the operator's real fingerprint (the one written to the status)."""
    leaf_der = parse_pem(material.certificate).blocks[0].der
    chain = [b.der for b in parse_pem(material.chain or b"").blocks]
    return DesiredState(OWNER, fingerprint(leaf_der, chain), "RSA_2048", ("us-east-1",))


def _older(record: RegionRecord) -> RegionRecord:
    assert record.imported_at is not None
    return replace(record, imported_at=record.imported_at - timedelta(minutes=5))


def test_own_content_with_an_older_imported_at_is_a_stale_record_not_drift(
    acm: AcmEmulator, engine: Engine
) -> None:
    # A status write lost or fenced off after acm-sync's own reimport leaves this record.
    material = leaf()
    record = engine.sync(_desired(material), material, {})["us-east-1"].record()

    (found,) = engine.sweep("us-east-1", [(OWNER, _older(record))])

    assert found.kind is DriftKind.STALE_RECORD
    assert "outside acm-sync" not in found.message


def test_other_content_with_a_newer_imported_at_is_still_out_of_band(
    acm: AcmEmulator, engine: Engine
) -> None:
    material = leaf()
    record = engine.sync(_desired(material), material, {})["us-east-1"].record()
    other = leaf()
    acm.acm.handle(
        "us-east-1",
        "ImportCertificate",
        {
            "CertificateArn": record.arn,
            "Certificate": b64encode(other.certificate).decode(),
            "PrivateKey": b64encode(other.private_key).decode(),
            **({"CertificateChain": b64encode(other.chain).decode()} if other.chain else {}),
        },
    )

    (found,) = engine.sweep("us-east-1", [(OWNER, _older(record))])

    assert found.kind is DriftKind.REIMPORTED
