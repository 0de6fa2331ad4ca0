"""Files made by the stock ``openssl`` CLI, the way people make them by hand, get the right
verdict. Keys are generated once per module; the commands are the ones in common guides."""

from __future__ import annotations

import shlex
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from acm_sync.core.analyze import analyze
from acm_sync.core.findings import Code

SUBJ = "/CN=shop.example.com"
SAN = "subjectAltName=DNS:shop.example.com,DNS:www.shop.example.com"


def openssl(cwd: Path, command: str) -> None:
    subprocess.run(
        ["openssl", *shlex.split(command)], cwd=cwd, check=True, capture_output=True, timeout=60
    )


# Each line is a command from the usual how-tos; keys are made once for the module.
RECIPE = f"""
genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key
rsa -in rsa.key -traditional -out rsa1.key
rsa -in rsa.key -traditional -aes256 -passout pass:pw -out rsa1enc.key
pkey -in rsa.key -aes256 -passout pass:pw -out rsa8enc.key
ecparam -genkey -name prime256v1 -out ec.key
genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out p384.key
genpkey -algorithm ED25519 -out ed.key
ecparam -genkey -name prime256v1 -noout -out other.key
req -x509 -key rsa.key -subj {SUBJ} -addext {SAN} -days 365 -out rsa.crt
req -x509 -key ec.key -subj {SUBJ} -addext {SAN} -days 365 -out ec.crt
req -x509 -key p384.key -subj {SUBJ} -addext {SAN} -days 365 -out p384.crt
req -x509 -key ed.key -subj {SUBJ} -addext {SAN} -days 365 -out ed.crt
req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
    -subj "/CN=Hand Made CA" -days 3650 -out ca.crt
req -new -key rsa.key -subj {SUBJ} -out leaf.csr
x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 90 -extfile v3.ext \
    -out leaf.crt
x509 -req -in leaf.csr -signkey rsa.key -days 90 -out v1.crt
x509 -in rsa.crt -outform DER -out rsa.der
x509 -in leaf.crt -text -out leaf-text.crt
"""


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("openssl")
    (d / "v3.ext").write_text(SAN + "\nbasicConstraints=CA:FALSE\n")
    for command in RECIPE.replace("\\\n", " ").strip().splitlines():
        openssl(d, command)
    return d


CASES = {
    # name: (tls.crt, tls.key, ca.crt, expected errors, expected warnings)
    "req -x509 with an RSA PKCS#8 key": ("rsa.crt", "rsa.key", None, set(), set()),
    "PKCS#1 via rsa -traditional": ("rsa.crt", "rsa1.key", None, set(), set()),
    "ecparam -genkey (EC PARAMETERS + SEC1)": ("ec.crt", "ec.key", None, set(), set()),
    "P-384 from genpkey": ("p384.crt", "p384.key", None, set(), {Code.CLOUDFRONT_INCOMPATIBLE}),
    "leaf signed by a CA, CA in ca.crt": ("leaf.crt", "rsa.key", "ca.crt", set(), set()),
    # Issued by a CA that is no public root, and not supplied: it may be an intermediate.
    "leaf without its CA": ("leaf.crt", "rsa.key", None, set(), {Code.INTERMEDIATE_MISSING}),
    "x509 -text output around the PEM": ("leaf-text.crt", "rsa1.key", "ca.crt", set(), set()),
    "Ed25519": ("ed.crt", "ed.key", None, {Code.UNSUPPORTED_KEY_ALGORITHM}, set()),
    "encrypted PKCS#1 (-aes256)": ("rsa.crt", "rsa1enc.key", None, {Code.ENCRYPTED_KEY}, set()),
    "encrypted PKCS#8 (-aes256)": ("rsa.crt", "rsa8enc.key", None, {Code.ENCRYPTED_KEY}, set()),
    "version 1 certificate": ("v1.crt", "rsa.key", None, {Code.NOT_X509V3}, set()),
    "DER certificate": ("rsa.der", "rsa.key", None, {Code.NOT_PEM}, set()),
    "key of another certificate": ("ec.crt", "other.key", None, {Code.KEY_MISMATCH}, set()),
    "certificate given as the key": ("rsa.crt", "rsa.crt", None, {Code.NO_PRIVATE_KEY}, set()),
}


@pytest.mark.parametrize("name", list(CASES))
def test_openssl_made_files(work: Path, name: str) -> None:
    cert, key, ca, errors, warnings = CASES[name]
    analysis = analyze(
        (work / cert).read_bytes(),
        (work / key).read_bytes(),
        (work / ca).read_bytes() if ca else None,
        now=datetime.now(UTC),
    )
    assert {f.code for f in analysis.errors} == errors
    assert {f.code for f in analysis.warnings} == warnings
    assert analysis.valid is (not errors)


def test_openssl_material_is_what_openssl_itself_writes(work: Path) -> None:
    """Canonical output equals openssl's own PEM: prose dropped, nothing else touched."""
    analysis = analyze(
        (work / "leaf-text.crt").read_bytes(),
        (work / "rsa.key").read_bytes().replace(b"\n", b"\r\n"),
        (work / "ca.crt").read_bytes(),
        now=datetime.now(UTC),
    )
    assert analysis.material is not None
    assert analysis.material.certificate == (work / "leaf.crt").read_bytes()
    assert analysis.material.chain == (work / "ca.crt").read_bytes()
    assert analysis.material.private_key == (work / "rsa.key").read_bytes()
