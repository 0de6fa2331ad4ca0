"""``acm-sync check`` as a user runs it: the installed command, real files, exit codes."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization

from acm_sync.core.analyze import analyze
from tests.certkit import NOW, Pki, ec_key, make_cert, make_pki
from tests.check.checkrun import Result, key_fragments, run_check, tls_secret

NOW_ARG = NOW.isoformat()


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def assert_no_key(result: Result, key_pem: bytes) -> None:
    for fragment in key_fragments(key_pem):
        assert fragment not in result.out
        assert fragment not in result.err


def test_valid_secret_manifest_prints_the_facts(tmp_path: Path, pki: Pki) -> None:
    cert, key = pki.leaf.pem + pki.intermediate.pem, pki.leaf.key_pem()
    manifest = write(tmp_path, "s.yaml", yaml.safe_dump(tls_secret(cert, key, pki.root.pem)))
    result = run_check(manifest, "--now", NOW_ARG)
    assert result.code == 0, result.out + result.err
    facts = analyze(cert, key, pki.root.pem, now=NOW).facts
    assert facts is not None
    assert f"fingerprint:  {facts.fingerprint}" in result.out
    assert f"serial:       {facts.serial}" in result.out
    assert "notAfter:     2027-03-28T12:00:00Z" in result.out
    assert "keyAlgorithm: RSA_2048" in result.out
    assert "domains:      www.example.com, example.com" in result.out
    assert_no_key(result, key)


def test_json_manifest_on_stdin_with_string_data(pki: Pki) -> None:
    secret = tls_secret(b"", b"")
    secret["data"] = {}
    secret["stringData"] = {
        "tls.crt": pki.leaf.pem.decode() + pki.intermediate.pem.decode(),
        "tls.key": pki.leaf.key_pem().decode(),
    }
    result = run_check("-", "--json", "--now", NOW_ARG, stdin=json.dumps(secret).encode())
    assert result.code == 0, result.err
    doc = result.json()
    assert doc["valid"] is True
    assert doc["errors"] == []
    assert [w["code"] for w in doc["warnings"]] == ["ChainIncomplete"]
    cert = doc["certificate"]
    assert isinstance(cert, dict)
    assert cert["keyAlgorithm"] == "RSA_2048"
    assert cert["domains"] == ["www.example.com", "example.com"]
    assert cert["notAfter"] == "2027-03-28T12:00:00Z"
    assert_no_key(result, pki.leaf.key_pem())


def test_pem_files_with_ca_and_warnings(tmp_path: Path, pki: Pki) -> None:
    leaf = make_cert(ec_key("P-384"), issuer=pki.intermediate, not_after=NOW + timedelta(days=20))
    result = run_check(
        "--cert",
        write(tmp_path, "tls.crt", pki.intermediate.pem + leaf.pem),
        "--key",
        write(tmp_path, "tls.key", leaf.key_pem("traditional")),
        "--ca",
        write(tmp_path, "ca.crt", pki.root.pem),
        "--now",
        NOW_ARG,
    )
    assert result.code == 0
    lines = result.out.splitlines()
    assert "ExpiresSoon: the certificate expires on 2026-06-21T12:00:00Z, in 20 day(s)" in lines[1]
    assert lines[0].startswith("CloudFrontIncompatible: CloudFront cannot use EC_secp384r1")
    assert "keyAlgorithm: EC_secp384r1" in result.out
    quiet = run_check(
        "--cert", tmp_path / "tls.crt", "--key", tmp_path / "tls.key", "--ca", tmp_path / "ca.crt",
        "--now", NOW_ARG, "--expiry-warning-days", "7",
    )  # fmt: skip
    assert "ExpiresSoon" not in quiet.out


def test_rejected_material_exits_1_with_one_line_per_error(tmp_path: Path, pki: Pki) -> None:
    expired = make_cert(ec_key("P-256"), issuer=pki.intermediate, cn=None, sans=None)
    other_key = make_cert(ec_key("P-256", 1)).key_pem()
    args: list[str | Path] = ["--cert", write(tmp_path, "c", expired.pem)]
    args += ["--key", write(tmp_path, "k", other_key)]
    result = run_check(*args, "--now", (NOW + timedelta(days=400)).isoformat())
    assert result.code == 1
    codes = [line.split(":")[0] for line in result.out.splitlines() if not line.startswith("=>")]
    assert set(codes) == {"KeyMismatch", "NoDomain", "Expired", "IntermediateMissing"}
    assert "fingerprint" not in result.out
    doc = run_check(*args, "--json", "--now", (NOW + timedelta(days=400)).isoformat()).json()
    assert doc["valid"] is False
    assert {e["code"] for e in doc["errors"]} == {"KeyMismatch", "NoDomain", "Expired"}
    assert_no_key(result, other_key)
    assert_no_key(result, expired.key_pem())


def test_encrypted_and_der_inputs(tmp_path: Path, pki: Pki) -> None:
    encrypted = pki.leaf.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    result = run_check(
        "--cert", write(tmp_path, "c", pki.leaf.pem), "--key", write(tmp_path, "k", encrypted)
    )
    assert result.code == 1
    assert result.out.startswith("EncryptedKey: ")
    assert_no_key(result, encrypted)
    der = run_check("--cert", write(tmp_path, "d", pki.leaf.der), "--key", tmp_path / "k")
    assert der.code == 1
    assert "NotPEM: tls.crt contains no PEM block (it looks like DER; ACM needs PEM)" in der.out


def test_previous_certificate_applies_reimport_rules(tmp_path: Path, pki: Pki) -> None:
    renewed = make_pki(ec_key("P-256"))
    args: list[str | Path] = [
        "--cert", write(tmp_path, "c", renewed.leaf.pem + renewed.intermediate.pem),
        "--key", write(tmp_path, "k", renewed.leaf.key_pem()),
        "--now", NOW_ARG,
    ]  # fmt: skip
    assert run_check(*args).code == 0
    result = run_check(*args, "--previous-cert", write(tmp_path, "prev", pki.leaf.pem))
    assert result.code == 1
    assert "ReimportKeyChange: the key algorithm changes from RSA_2048 to EC_prime256v1" in (
        result.out
    )


USAGE_CASES = {
    "missing file": (["--cert", "{tmp}/nope.crt", "--key", "{tmp}/nope.key"], "cannot read"),
    "missing manifest": (["{tmp}/nope.yaml"], "cannot read"),
    "unparsable manifest": (["{tmp}/broken.yaml"], "not valid YAML"),
    "Opaque secret": (["{tmp}/opaque.yaml"], "'Opaque', not 'kubernetes.io/tls'"),
    "not a Secret": (["{tmp}/cm.yaml"], "not a Secret"),
    "two documents": (["{tmp}/two.yaml"], "exactly one Secret"),
    "bad base64 in data": (["{tmp}/badb64.yaml"], "not valid base64"),
    "nothing to check": ([], "give a Secret manifest"),
    "cert without key": (["--cert", "{tmp}/tls.crt"], "both --cert FILE and --key FILE"),
    "manifest and files": (["{tmp}/opaque.yaml", "--cert", "{tmp}/tls.crt"], "not both"),
    "bad --now": (["{tmp}/opaque.yaml", "--now", "yesterday"], "ISO 8601"),
}


@pytest.fixture(scope="module")
def usage_dir(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Path:
    d = tmp_path_factory.mktemp("usage")
    secret = tls_secret(pki.leaf.pem, pki.leaf.key_pem())
    write(d, "broken.yaml", "kind: Secret\ndata: [unclosed\n")
    write(d, "opaque.yaml", yaml.safe_dump(secret | {"type": "Opaque"}))
    write(d, "cm.yaml", yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "data": {}}))
    write(d, "two.yaml", yaml.safe_dump(secret) + "---\n" + yaml.safe_dump(secret))
    write(d, "badb64.yaml", yaml.safe_dump(secret | {"data": {"tls.crt": "%%%"}}))
    write(d, "tls.crt", pki.leaf.pem)
    return d


@pytest.mark.parametrize("name", list(USAGE_CASES))
def test_usage_errors_exit_2(usage_dir: Path, name: str) -> None:
    args, message = USAGE_CASES[name]
    result = run_check(*(a.format(tmp=usage_dir) for a in args))
    assert result.code == 2, result.out + result.err
    assert message in result.err
    assert result.out == ""


def test_check_never_imports_the_operator_stack(tmp_path: Path, pki: Pki) -> None:
    cert = write(tmp_path, "c", pki.leaf.pem)
    key = write(tmp_path, "k", pki.leaf.key_pem())
    probe = (
        "import sys\n"
        "from acm_sync.cli import main\n"
        f"code = main(['check', '--cert', {str(cert)!r}, '--key', {str(key)!r}, '--json'])\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules}"
        " & {'kopf', 'boto3', 'botocore', 'kubernetes', 'aiohttp', 'yaml', 'moto',"
        " 'acm_sync_testbed'})\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert "HEAVY []" in proc.stderr
    assert json.loads(proc.stdout)["certificate"]["keyAlgorithm"] == "RSA_2048"


def test_secret_data_key_material_is_never_echoed(tmp_path: Path, pki: Pki) -> None:
    """Even a key stuffed into tls.crt (a classic copy-paste slip) is not repeated back."""
    key = pki.leaf.key_pem()
    secret = tls_secret(key, key)
    manifest = write(tmp_path, "s.json", json.dumps(secret))
    for extra in ([], ["--json"]):
        result = run_check(manifest, *extra)
        assert result.code == 1
        assert "NoCertificate" in result.out
        assert_no_key(result, key)
        assert base64.b64encode(key).decode()[:40] not in result.out


def _named(secret: dict[str, object], name: str) -> dict[str, object]:
    return {**secret, "metadata": {"name": name, "namespace": "web"}}


def test_a_list_gets_one_verdict_per_tls_secret(pki: Pki) -> None:
    good = _named(tls_secret(pki.leaf.pem + pki.intermediate.pem, pki.leaf.key_pem()), "good")
    other_key = make_cert(ec_key("P-256", 3)).key_pem()
    bad = _named(tls_secret(pki.leaf.pem + pki.intermediate.pem, other_key), "bad")
    token = {"kind": "Secret", "type": "kubernetes.io/service-account-token", "data": {}}
    listing = {"apiVersion": "v1", "kind": "List", "items": [good, token, bad]}
    # As `kubectl get secrets -o yaml | acm-sync check -` passes it.
    result = run_check("-", "--now", NOW_ARG, stdin=yaml.safe_dump(listing).encode())
    assert result.code == 1  # one of them would be refused
    blocks = result.out.split("== ")[1:]
    assert [b.splitlines()[0] for b in blocks] == ["web/good", "web/bad"]
    assert "=> ACM would accept" in blocks[0]
    assert "KeyMismatch" in blocks[1]
    assert "=> ACM would reject" in blocks[1]
    assert_no_key(result, other_key)
    doc = run_check("-", "--json", "--now", NOW_ARG, stdin=json.dumps(listing).encode()).json()
    assert doc["valid"] is False
    verdicts = {s["secret"]: s["valid"] for s in doc["secrets"]}
    assert verdicts == {"web/good": True, "web/bad": False}
    only_good = {**listing, "items": [good]}
    assert run_check("-", "--now", NOW_ARG, stdin=json.dumps(only_good).encode()).code == 0


def test_a_list_without_tls_secrets_is_a_usage_error() -> None:
    listing = {"kind": "SecretList", "items": [{"kind": "Secret", "type": "Opaque"}]}
    result = run_check("-", stdin=json.dumps(listing).encode())
    assert result.code == 2
    assert "no Secret of type" in result.err
