"""``acm-sync check``: would ACM accept this Secret (or these PEM files)?

Exit codes: 0 when ACM would accept the material (warnings allowed), 1 when it would not, 2 for
usage errors (missing file, unparsable manifest, not a ``kubernetes.io/tls`` Secret, a
``--previous-cert`` file without a certificate). Under ``--json`` a usage error also prints
``{"valid": false, "usageError": "..."}`` on stdout (argparse's own errors, such as an unknown
option, are reported by the dispatcher on stderr only).

Startup matters here (people run it in loops and CI), so this module imports only the pure core
and the standard library; PyYAML is imported only when a manifest is read.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from acm_sync.core.analyze import analyze
from acm_sync.core.model import Analysis, CertificateFacts
from acm_sync.core.roots import NO_PRIVATE_ROOTS, PrivateRoots, private_roots

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
TLS_TYPE = "kubernetes.io/tls"


class UsageError(Exception):
    """Bad invocation or unreadable input: exit code 2, message on stderr."""


# --now and --expiry-warning-days are parsed in main() rather than by argparse, so that their
# errors reach the caller as usage errors (JSON under --json), like every other usage error.
def _timestamp(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--now: not an ISO 8601 timestamp: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"--expiry-warning-days: not a number of days: {text!r}") from None
    if value < 0:
        raise UsageError("--expiry-warning-days must be 0 or more")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``acm-sync check``'s arguments on the dispatcher's subparser."""
    parser.add_argument(
        "manifest",
        nargs="?",
        metavar="SECRET",
        help="a kubernetes.io/tls Secret manifest, YAML or JSON ('-' for stdin)",
    )
    parser.add_argument("--cert", metavar="FILE", help="certificate PEM (leaf, maybe + chain)")
    parser.add_argument("--key", metavar="FILE", help="private key PEM (with --cert)")
    parser.add_argument("--ca", metavar="FILE", help="CA PEM used only to complete the chain")
    parser.add_argument(
        "--previous-cert",
        metavar="FILE",
        help="the certificate currently in ACM: also apply the reimport rules",
    )
    parser.add_argument(
        "--private-root-ca-file",
        metavar="FILE",
        help="PEM bundle of private roots your clients trust: a chain ending at one of them "
        "is not ChainIncomplete/IntermediateMissing (as for acm-sync run)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--expiry-warning-days",
        default="30",
        metavar="N",
        help="warn (ExpiresSoon) when the certificate expires within N days (default 30)",
    )
    parser.add_argument(
        "--now",
        metavar="ISO8601",
        help="check as of this time instead of now (UTC if no offset is given)",
    )


def _read(path: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def _secret_value(secret: Mapping[str, Any], name: str) -> bytes | None:
    """``stringData`` wins over ``data``, as the API server merges them."""
    string_data = secret.get("stringData") or {}
    data = secret.get("data") or {}
    if not isinstance(string_data, Mapping) or not isinstance(data, Mapping):
        raise UsageError("data and stringData must be mappings")
    if string_data.get(name) is not None:
        return str(string_data[name]).encode("utf-8")
    encoded = data.get(name)
    if encoded is None:
        return None
    try:
        return base64.b64decode(str(encoded), validate=True)
    except (binascii.Error, ValueError):
        raise UsageError(f"data[{name!r}] is not valid base64") from None


Material = tuple[bytes | None, bytes | None, bytes | None]


def _load_manifest(raw: bytes, path: str) -> list[tuple[str | None, Material]]:
    """The Secret's material, or each TLS Secret's of a List (labelled namespace/name)."""
    import yaml  # only manifests need it; keeps `check --cert/--key` startup lean

    try:
        documents = [d for d in yaml.safe_load_all(raw) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise UsageError(f"{path} is not valid YAML or JSON{where}") from None
    if len(documents) != 1:
        raise UsageError(f"{path} must hold exactly one Secret, found {len(documents)} documents")
    secret = documents[0]
    if isinstance(secret, Mapping) and str(secret.get("kind", "")).endswith("List"):
        return _list_items(secret, path)
    return [(None, _material(secret, path))]


def _list_items(listing: Mapping[str, Any], path: str) -> list[tuple[str | None, Material]]:
    """Every kubernetes.io/tls Secret of a List (``kubectl get secrets -o yaml``)."""
    items = listing.get("items") or []
    if not isinstance(items, list):
        raise UsageError(f"{path}: the List's items must be a list")
    found: list[tuple[str | None, Material]] = []
    for item in items:
        if not isinstance(item, Mapping) or item.get("kind", "Secret") != "Secret":
            continue
        if item.get("type") != TLS_TYPE:
            continue  # a List of every Secret holds service account tokens and the like
        meta = item.get("metadata") or {}
        label = f"{meta.get('namespace') or '-'}/{meta.get('name') or '?'}"
        found.append((label, _material({"kind": "Secret", **item}, f"{path}: {label}")))
    if not found:
        raise UsageError(f"{path} is a List with no Secret of type {TLS_TYPE!r}")
    return found


def _material(secret: object, path: str) -> Material:
    if not isinstance(secret, Mapping) or secret.get("kind") != "Secret":
        raise UsageError(f"{path} is not a Secret manifest")
    if secret.get("type") != TLS_TYPE:
        raise UsageError(f"{path} is a Secret of type {secret.get('type')!r}, not {TLS_TYPE!r}")
    return (
        _secret_value(secret, "tls.crt"),
        _secret_value(secret, "tls.key"),
        _secret_value(secret, "ca.crt"),
    )


def _inputs(args: argparse.Namespace) -> list[tuple[str | None, Material]]:
    if args.manifest is not None and (args.cert or args.key or args.ca):
        raise UsageError("give either a Secret manifest or --cert/--key/--ca, not both")
    if args.manifest is not None:
        found = _load_manifest(_read(args.manifest), args.manifest)
        if len(found) > 1 and args.previous_cert:
            raise UsageError("--previous-cert applies to one Secret, not to a List")
        return found
    if not args.cert or not args.key:
        raise UsageError("give a Secret manifest, or both --cert FILE and --key FILE")
    return [(None, (_read(args.cert), _read(args.key), _read(args.ca) if args.ca else None))]


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def facts_as_dict(facts: CertificateFacts) -> dict[str, Any]:
    """The ``certificate`` object of the JSON output (camelCase, like the status fields)."""
    return {
        "fingerprint": facts.fingerprint,
        "serial": facts.serial,
        "subject": facts.subject,
        "issuer": facts.issuer,
        "notBefore": _when(facts.not_before),
        "notAfter": _when(facts.not_after),
        "keyAlgorithm": facts.key_algorithm,
        "domains": list(facts.domains),
    }


def as_json(analysis: Analysis) -> dict[str, Any]:
    """The whole JSON document printed by ``--json``. Never contains key material."""
    return {
        "valid": analysis.valid,
        "errors": [f.as_dict() for f in analysis.errors],
        "warnings": [f.as_dict() for f in analysis.warnings],
        "certificate": None if analysis.facts is None else facts_as_dict(analysis.facts),
    }


def as_text(analysis: Analysis) -> str:
    """Human output: ``CODE: message`` per finding, a verdict, then the facts when valid."""
    lines = [f"{f.code.value}: {f.message}" for f in analysis.errors + analysis.warnings]
    if not analysis.valid:
        lines.append(f"=> ACM would reject this material ({len(analysis.errors)} error(s))")
        return "\n".join(lines) + "\n"
    lines.append(f"=> ACM would accept this material ({len(analysis.warnings)} warning(s))")
    if analysis.facts is not None:
        facts = analysis.facts
        lines += [
            f"fingerprint:  {facts.fingerprint}",
            f"serial:       {facts.serial}",
            f"notAfter:     {_when(facts.not_after)}",
            f"keyAlgorithm: {facts.key_algorithm}",
            f"domains:      {', '.join(facts.domains)}",
        ]
    return "\n".join(lines) + "\n"


def _previous(path: str) -> bytes:
    """The ``--previous-cert`` file, which must hold a certificate (else a usage error)."""
    from acm_sync.core.x509facts import first_certificate

    raw = _read(path)
    if first_certificate(raw) is None:
        raise UsageError(f"--previous-cert {path} holds no PEM certificate")
    return raw


def _private_roots(path: str) -> PrivateRoots:
    """The ``--private-root-ca-file`` bundle, which must hold a certificate."""
    roots = private_roots(_read(path))
    if not roots:
        raise UsageError(f"--private-root-ca-file {path} holds no PEM certificate")
    return roots


def usage_error_json(message: str) -> dict[str, Any]:
    """What ``--json`` prints for a usage error (exit code 2): no verdict, the reason."""
    return {"valid": False, "usageError": message}


def main(args: argparse.Namespace) -> int:
    """Run the check; print the verdict; return 0 (accepted), 1 (rejected) or 2 (usage)."""
    try:
        now = _timestamp(args.now) if args.now else datetime.now(UTC)
        warning_days = _non_negative(str(args.expiry_warning_days))
        inputs = _inputs(args)
        previous = _previous(args.previous_cert) if args.previous_cert else None
        roots = (
            _private_roots(args.private_root_ca_file)
            if args.private_root_ca_file
            else NO_PRIVATE_ROOTS
        )
    except UsageError as exc:
        print(f"acm-sync check: error: {exc}", file=sys.stderr)
        if args.json:
            sys.stdout.write(json.dumps(usage_error_json(str(exc)), indent=2) + "\n")
        return EXIT_USAGE
    verdicts = [
        (
            label,
            analyze(
                cert,
                key,
                ca,
                now=now,
                expiry_warning_days=warning_days,
                previous_certificate=previous,
                private_roots=roots,
            ),
        )
        for label, (cert, key, ca) in inputs
    ]
    valid = all(analysis.valid for _, analysis in verdicts)
    if len(verdicts) == 1 and verdicts[0][0] is None:
        analysis = verdicts[0][1]
        if args.json:
            sys.stdout.write(json.dumps(as_json(analysis), indent=2) + "\n")
        else:
            sys.stdout.write(as_text(analysis))
    elif args.json:
        secrets = [{"secret": label, **as_json(analysis)} for label, analysis in verdicts]
        sys.stdout.write(json.dumps({"valid": valid, "secrets": secrets}, indent=2) + "\n")
    else:
        # One block per Secret, so that a verdict is never read as another Secret's.
        sys.stdout.write("\n".join(f"== {label}\n{as_text(a)}" for label, a in verdicts))
    return EXIT_VALID if valid else EXIT_INVALID
