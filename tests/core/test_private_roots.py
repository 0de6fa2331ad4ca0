"""Private roots the user trusts (--private-root-ca-file): chains ending there get no warning.

Public chains (any root not listed) keep ChainIncomplete / IntermediateMissing, and a listed
root is matched by signature, not by name alone.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from acm_sync.core.analyze import analyze
from acm_sync.core.findings import Code
from acm_sync.core.roots import private_roots
from tests.certkit import NOW, ec_key, make_cert, make_pki

ACM_SYNC = Path(sys.executable).with_name("acm-sync")


def _codes(cert: bytes, key: bytes, bundle: bytes | None = None) -> set[Code]:
    roots = private_roots(bundle) if bundle is not None else None
    extra = {"private_roots": roots} if roots is not None else {}
    found = analyze(cert, key, None, now=NOW, **extra)  # type: ignore[arg-type]
    assert found.valid, found.errors
    return {w.code for w in found.warnings}


def test_a_chain_ending_at_a_listed_root_has_no_chain_warning() -> None:
    pki = make_pki(slot=7)
    tls_crt = pki.leaf.pem + pki.intermediate.pem
    assert Code.CHAIN_INCOMPLETE in _codes(tls_crt, pki.leaf.key_pem())
    assert _codes(tls_crt, pki.leaf.key_pem(), pki.root.pem) == set()


def test_a_leaf_issued_by_a_listed_root_is_not_missing_its_intermediate() -> None:
    pki = make_pki(slot=8)
    leaf = make_cert(ec_key("P-256", 7), issuer=pki.root)
    assert Code.INTERMEDIATE_MISSING in _codes(leaf.pem, leaf.key_pem())
    assert _codes(leaf.pem, leaf.key_pem(), pki.root.pem) == set()


def test_other_roots_keep_the_warning_even_under_the_listed_name() -> None:
    pki = make_pki(slot=9)
    other = make_pki(slot=10)
    # Same subject as the real root, another key: a name match alone proves nothing.
    impostor = make_cert(ec_key("P-384", 300), cn="Test Root 9", sans=None, ca=True)
    tls_crt = pki.leaf.pem + pki.intermediate.pem
    bundle = other.root.pem + impostor.pem
    assert Code.CHAIN_INCOMPLETE in _codes(tls_crt, pki.leaf.key_pem(), bundle)


def test_check_takes_the_same_file(tmp_path: Path) -> None:
    pki = make_pki(slot=11)
    (tmp_path / "tls.crt").write_bytes(pki.leaf.pem + pki.intermediate.pem)
    (tmp_path / "tls.key").write_bytes(pki.leaf.key_pem())
    (tmp_path / "roots.pem").write_bytes(pki.root.pem)
    (tmp_path / "empty.pem").write_text("no certificate here\n")
    base = [str(ACM_SYNC), "check", "--cert", str(tmp_path / "tls.crt")]
    base += ["--key", str(tmp_path / "tls.key"), "--now", NOW.isoformat()]
    plain = subprocess.run(base, capture_output=True, text=True, check=False)
    assert "ChainIncomplete" in plain.stdout
    trusted = subprocess.run(
        [*base, "--private-root-ca-file", str(tmp_path / "roots.pem")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert trusted.returncode == 0, trusted.stderr
    assert "ChainIncomplete" not in trusted.stdout
    empty = subprocess.run(
        [*base, "--private-root-ca-file", str(tmp_path / "empty.pem")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert empty.returncode == 2
    assert "holds no PEM certificate" in empty.stderr
