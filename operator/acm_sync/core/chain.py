"""Finding the leaf and ordering the chain the way ACM wants it.

ACM wants the chain as intermediates, each one certifying the one before it, the leaf's issuer
first, the leaf never repeated. Bundles arrive reversed, with the leaf twice, with duplicates,
and with a ``ca.crt`` that may or may not belong to them; this module sorts that out.

Self-signed roots: the facts file says "the root may be left out", and ACM accepts a chain with
or without it. Nothing in ACM *needs* the root dropped, so a root the user supplied (or one
from ``ca.crt`` that really issued the top of the chain) is kept: the material sent is exactly
what the user's bundle certifies, and the fingerprint reflects it.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509

from acm_sync.core.findings import Code, Finding
from acm_sync.core.roots import is_well_known_root_name
from acm_sync.core.x509facts import is_self_signed, issued_by, name_string, public_spki, subjects


@dataclass(frozen=True, slots=True)
class Cert:
    """A parsed certificate and the exact DER it came from."""

    der: bytes
    x509: x509.Certificate


@dataclass(frozen=True, slots=True)
class ChainResult:
    """The leaf (None only for an empty bundle), its ordered chain, and chain findings."""

    leaf: Cert | None
    leaf_matches_key: bool
    chain: tuple[Cert, ...]
    findings: tuple[Finding, ...]


def dedupe(certs: list[Cert]) -> list[Cert]:
    """Drop byte-identical repeats, keeping first occurrences in order."""
    seen: set[bytes] = set()
    unique: list[Cert] = []
    for cert in certs:
        if cert.der not in seen:
            seen.add(cert.der)
            unique.append(cert)
    return unique


def _issues_another(candidate: Cert, bundle: list[Cert]) -> bool:
    return any(
        other.der != candidate.der and issued_by(other.x509, candidate.x509) for other in bundle
    )


def pick_leaf(bundle: list[Cert], key_spki: bytes | None) -> tuple[Cert | None, bool]:
    """The certificate whose public key matches the private key, and whether one did.

    Without a matching key the presumed leaf is the first certificate that issued no other
    certificate of the bundle, so that facts (domains, expiry) still describe the right one.
    """
    if not bundle:
        return None, False
    if key_spki is not None:
        matching = [c for c in bundle if public_spki(c.x509) == key_spki]
        if matching:
            # A CA and its leaf never share a key in practice, but if they do, the leaf is the
            # one that issued nothing.
            ends = [c for c in matching if not _issues_another(c, bundle)]
            return (ends or matching)[0], True
    ends = [c for c in bundle if not _issues_another(c, bundle)]
    return (ends or bundle)[0], False


def _find_issuer(child: Cert, candidates: list[Cert]) -> Cert | None:
    for candidate in candidates:
        if issued_by(child.x509, candidate.x509):
            return candidate
    return None


def build_chain(bundle: list[Cert], ca: list[Cert], key_spki: bytes | None) -> ChainResult:
    """Order ``bundle`` (tls.crt) into leaf + chain, completing it from ``ca`` (ca.crt).

    ``ca`` contributes a certificate only when it really issued the current top of the chain;
    an unrelated CA (cert-manager often stores one there) is ignored.
    """
    bundle = dedupe(bundle)
    leaf, matches = pick_leaf(bundle, key_spki)
    if leaf is None:
        return ChainResult(None, False, (), ())
    remaining = [c for c in bundle if c.der != leaf.der]
    used = {leaf.der}
    extra = [c for c in dedupe(ca) if c.der not in used]
    chain: list[Cert] = []
    top = leaf
    complete = is_self_signed(leaf.x509)
    while not complete:
        parent = _find_issuer(top, remaining)
        if parent is not None:
            remaining.remove(parent)
        else:
            parent = _find_issuer(top, [c for c in extra if c.der not in used])
            if parent is None:
                break
        used.add(parent.der)
        chain.append(parent)
        top = parent
        complete = is_self_signed(top.x509)
    return ChainResult(leaf, matches, tuple(chain), _chain_findings(leaf, top, complete, remaining))


def _chain_findings(
    leaf: Cert, top: Cert, complete: bool, unlinked: list[Cert]
) -> tuple[Finding, ...]:
    top_subject = name_string(top.x509.subject)
    issuer = name_string(top.x509.issuer)
    if unlinked:
        if complete:
            why = f"the chain of '{name_string(leaf.x509.subject)}' is complete without them"
        else:
            why = f"the issuer of '{top_subject}' ('{issuer}') is missing"
        return (
            Finding(
                Code.BROKEN_CHAIN,
                f"tls.crt: {subjects(c.x509 for c in unlinked)} do(es) not certify the "
                f"chain; {why}",
            ),
        )
    if not complete and top.der == leaf.der and not is_well_known_root_name(top.x509.issuer):
        # No intermediate at all, and the issuer is no public root: a public CA's leaf always
        # comes with an intermediate, so one was most likely left out.
        return (
            Finding(
                Code.INTERMEDIATE_MISSING,
                f"the chain stops at the leaf '{top_subject}': its issuer '{issuer}' is in "
                "neither tls.crt nor ca.crt and is not a well-known root. ACM accepts the "
                "import, but clients fail to verify it unless they already hold that issuer: "
                "add the intermediate to tls.crt (ignore this if it is a private root your "
                "clients trust)",
            ),
        )
    if not complete:
        return (
            Finding(
                Code.CHAIN_INCOMPLETE,
                f"the chain ends at '{top_subject}', whose issuer '{issuer}' is in neither "
                "tls.crt nor ca.crt; clients must already hold it (normal for a public root)",
            ),
        )
    return ()
