"""Differential test: the emulator's ACM rules (the oracle) against the operator's core.

The emulator's rules are written from ACM's documentation and import none of the operator's
code, so agreement between the two is evidence, not a tautology. Every case is a request
(previous certificate for a reimport, then certificate, key, chain) with the verdict ACM's
documentation gives (``accept``); the test asserts:

* the emulator, driven through its API, gives the documented verdict;
* the core (``analyze`` over the same bytes as tls.crt / tls.key / ca.crt, and for reimports
  ``check_reimport``) gives the same verdict, unless the case is pinned in :data:`DISAGREE`
  or :data:`REPAIRED` with the reason;
* whatever the core accepts, the material it would send is accepted by the emulator.

Checked to fail: with the emulator's EKU rule broken to let serverAuth go, the
serverAuth-removed and EKU-extension-dropped cases fail in both tests.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from acm_sync.core.analyze import analyze
from acm_sync.core.findings import Severity
from acm_sync.core.reimport import check_reimport as core_check_reimport
from acm_sync_testbed.emulators.acm import rules
from acm_sync_testbed.emulators.acm.backend import AcmError, StrictAcm
from tests.acm_emulator.oracle_cases import (
    CASES,
    DISAGREE,
    REPAIRED,
    Case,
    Request,
    build,
    intermediate,
)


@pytest.fixture(scope="module")
def acm() -> StrictAcm:
    return StrictAcm()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def emulator_verdict(acm: StrictAcm, request: Request) -> tuple[bool, str]:
    """Send the request through the emulator's API (a reimport after importing ``previous``)."""
    acm.reset()
    params: dict[str, Any] = {}
    if request.previous is not None and request.previous_key is not None:
        # A reimport: the previous certificate must itself be an accepted import.
        seeded = acm.handle(
            "us-east-1",
            "ImportCertificate",
            {
                "Certificate": _b64(request.previous),
                "PrivateKey": _b64(request.previous_key),
                "CertificateChain": _b64(intermediate().pem),
            },
        )
        params["CertificateArn"] = seeded["CertificateArn"]
    try:
        params.update(Certificate=_b64(request.certificate), PrivateKey=_b64(request.private_key))
        if request.chain is not None:
            params["CertificateChain"] = _b64(request.chain)
        acm.handle("us-east-1", "ImportCertificate", params)
    except AcmError as err:
        return False, f"{err.error_type}: {err.message}"
    return True, "accepted"


def core_verdict(request: Request) -> tuple[bool, Any]:
    analysis = analyze(
        request.certificate,
        request.private_key,
        request.chain,
        now=datetime.now(UTC),
        previous_certificate=request.previous,
    )
    return not analysis.errors, analysis


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_emulator_and_core_agree(acm: StrictAcm, case: Case) -> None:
    request = build(case)
    emulator_accepts, why = emulator_verdict(acm, request)
    assert emulator_accepts is case.accept, f"emulator: {why}"

    core_accepts, analysis = core_verdict(request)
    expected_core = DISAGREE.get(case.name, (case.accept, ""))[0]
    if case.name in REPAIRED:
        expected_core = True
    assert core_accepts is expected_core, f"core: {[f.message for f in analysis.errors]}"

    if core_accepts and case.name not in DISAGREE:
        # Whatever the operator would send must be what ACM accepts.
        material = analysis.material
        assert material is not None
        sent = replace(
            request,
            certificate=material.certificate,
            private_key=material.private_key,
            chain=material.chain,
        )
        accepted, why = emulator_verdict(acm, sent)
        assert accepted, f"the core's material is refused by the emulator: {why}"


PAIRS = [c for c in CASES if c.previous is not None and c.key == "own"]


@pytest.mark.parametrize("case", PAIRS, ids=lambda c: c.name)
def test_reimport_rules_agree(case: Case) -> None:
    """The reimport rules alone: the emulator's ``check_reimport`` against the core's."""
    request = build(case)
    assert request.previous is not None
    oracle = rules.check_reimport(request.previous, request.certificate) is None
    core = not [
        f
        for f in core_check_reimport(request.previous, request.certificate)
        if f.severity is Severity.ERROR
    ]
    # Cases refused for an import rule (not a reimport rule) pass the reimport rules.
    import_ok = rules.check_import(request.certificate, request.private_key, request.chain) is None
    if import_ok:
        assert oracle is case.accept
    expected_core = DISAGREE.get(case.name, (oracle, ""))[0] if import_ok else oracle
    assert core is expected_core


def test_regions_and_arns_agree() -> None:
    """The emulator reads regions and ARNs on its own; the operator must read them alike."""
    from acm_sync.aws.region_table import acm_regions as operator_regions
    from acm_sync.core.regions import region_of_arn as operator_region_of_arn
    from acm_sync_testbed.emulators.acm.regions import acm_regions, region_of_arn

    assert acm_regions() == operator_regions()
    for arn in (
        "arn:aws:acm:us-east-1:123456789012:certificate/0b1f2c3d-aaaa-bbbb-cccc-000000000000",
        "arn:aws-cn:acm:cn-north-1:123456789012:certificate/abc",
        "arn:aws-us-gov:acm:us-gov-west-1:123456789012:certificate/abc",
        "arn:aws:acm:us-east-1:12345:certificate/abc",
        "arn:aws:iam::123456789012:server-certificate/abc",
        "not an arn",
    ):
        assert region_of_arn(arn) == operator_region_of_arn(arn), arn
