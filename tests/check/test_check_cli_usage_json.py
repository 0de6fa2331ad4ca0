"""``acm-sync check``: usage errors under ``--json``, ``--previous-cert`` input, key wording."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.certkit import NOW, Pki
from tests.check.checkrun import run_check

NOW_ARG = NOW.isoformat()


def _write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@pytest.fixture
def pair(tmp_path: Path, pki: Pki) -> list[str]:
    cert = _write(tmp_path, "tls.crt", pki.leaf.pem + pki.intermediate.pem)
    key = _write(tmp_path, "tls.key", pki.leaf.key_pem())
    return ["--cert", str(cert), "--key", str(key), "--now", NOW_ARG]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cert", "{tmp}/tls.crt"], "both --cert FILE and --key FILE"),
        (["--cert", "{tmp}/tls.crt", "--key", "{tmp}/nope.key"], "cannot read"),
        (["{tmp}/nope.yaml"], "cannot read"),
        (["--cert", "{tmp}/tls.crt", "--key", "{tmp}/tls.key", "--now", "yesterday"], "ISO 8601"),
        (
            ["--cert", "{tmp}/tls.crt", "--key", "{tmp}/tls.key", "--expiry-warning-days", "-3"],
            "0 or more",
        ),
    ],
)
def test_usage_errors_under_json_print_a_json_error(
    tmp_path: Path, pair: list[str], args: list[str], message: str
) -> None:
    result = run_check("--json", *(a.format(tmp=tmp_path) for a in args))
    assert result.code == 2, result.out + result.err
    doc = result.json()
    assert doc["valid"] is False
    assert message in doc["usageError"]
    assert message in result.err  # and still on stderr for people


def test_a_missing_previous_certificate_is_a_usage_error(tmp_path: Path, pair: list[str]) -> None:
    result = run_check(*pair, "--previous-cert", tmp_path / "nope.pem")
    assert result.code == 2
    assert "cannot read" in result.err
    assert result.out == ""


def test_a_previous_certificate_file_without_a_certificate_is_a_usage_error(
    tmp_path: Path, pair: list[str], pki: Pki
) -> None:
    key_file = _write(tmp_path, "prev.pem", pki.leaf.key_pem())
    result = run_check(*pair, "--previous-cert", key_file)
    assert result.code == 2
    assert f"--previous-cert {key_file} holds no PEM certificate" in result.err
    assert result.out == ""
    doc = run_check(*pair, "--json", "--previous-cert", key_file).json()
    assert "holds no PEM certificate" in doc["usageError"]
    # A real previous certificate still applies the reimport rules (exit 0 or 1, never 2).
    ok = run_check(*pair, "--previous-cert", _write(tmp_path, "p.crt", pki.leaf.pem))
    assert ok.code == 0, ok.out + ok.err


def test_encrypted_key_message_does_not_stutter(tmp_path: Path, pair: list[str], pki: Pki) -> None:
    for fmt, marker in (
        (serialization.PrivateFormat.PKCS8, "-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        (serialization.PrivateFormat.TraditionalOpenSSL, "with Proc-Type: 4,ENCRYPTED"),
    ):
        encrypted = pki.leaf.key.private_bytes(
            serialization.Encoding.PEM, fmt, serialization.BestAvailableEncryption(b"pw")
        )
        args = [*pair[:3], str(_write(tmp_path, "enc.key", encrypted)), *pair[4:]]
        result = run_check(*args)
        assert result.code == 1
        first = result.out.splitlines()[0]
        assert first.startswith("EncryptedKey: tls.key is encrypted (")
        assert marker in first
        assert "encrypted ENCRYPTED" not in first
