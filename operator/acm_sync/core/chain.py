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

from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509

from acm_sync.core.findings import Code, Finding
from acm_sync.core.limits import DEFAULT_LIMITS, Limits
from acm_sync.core.roots import NO_PRIVATE_ROOTS, PrivateRoots, is_well_known_root_name
from acm_sync.core.x509facts import issued_by, name_string, public_spki, subjects

_LISTED = 5


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


class _Linker:
    """Who issued whom, through name indexes, with a budget of signature checks.

    Only a pair whose names link (the child's issuer is the parent's subject) is ever verified,
    and a bundle of certificates sharing one name, which would make that n^2 verifications,
    spends the budget and then stops verifying: the pairs left unchecked count as unlinked.
    """

    def __init__(self, bundle: list[Cert], ca: list[Cert], budget: int) -> None:
        self.by_issuer = _index(bundle, lambda c: c.x509.issuer)
        self.by_subject = _index(bundle, lambda c: c.x509.subject)
        self.ca_by_subject = _index(ca, lambda c: c.x509.subject)
        self.budget = budget
        self.checks = 0
        self.gave_up = False
        # Finding the leaf without its key verifies the links the chain then follows: those
        # verdicts are reused, so a real chain of n costs about n checks, not 2n.
        self.verdicts: dict[tuple[bytes, bytes], bool] = {}

    def issued(self, child: Cert, parent: Cert) -> bool:
        if child.x509.issuer != parent.x509.subject:
            return False
        pair = (child.der, parent.der)
        verdict = self.verdicts.get(pair)
        if verdict is not None:
            return verdict
        if self.checks >= self.budget:
            self.gave_up = True
            return False
        self.checks += 1
        verdict = self.verdicts[pair] = issued_by(child.x509, parent.x509)
        return verdict

    def signed_by_root(self, child: Cert, roots: PrivateRoots) -> bool:
        """Whether one of ``roots`` named as ``child``'s issuer really signed it (budgeted)."""
        for root in roots.named_as_issuer_of(child.x509):
            if self.checks >= self.budget:
                self.gave_up = True
                return False
            self.checks += 1
            if issued_by(child.x509, root):
                return True
        return False

    def issues_another(self, candidate: Cert) -> bool:
        return any(
            other.der != candidate.der and self.issued(other, candidate)
            for other in self.by_issuer.get(candidate.x509.subject, ())
        )

    def take_issuer(
        self, child: Cert, index: dict[x509.Name, list[Cert]], used: set[bytes]
    ) -> Cert | None:
        """The first certificate of ``index`` (file order) that issued ``child``, removed."""
        candidates = index.get(child.x509.issuer, [])
        for position, candidate in enumerate(candidates):
            if candidate.der not in used and self.issued(child, candidate):
                del candidates[position]
                return candidate
        return None


def _index(certs: list[Cert], name: Callable[[Cert], x509.Name]) -> dict[x509.Name, list[Cert]]:
    index: dict[x509.Name, list[Cert]] = {}
    for cert in certs:
        index.setdefault(name(cert), []).append(cert)
    return index


def _pick_leaf(bundle: list[Cert], key_spki: bytes | None, linker: _Linker) -> tuple[Cert, bool]:
    """The certificate whose public key matches the private key, and whether one did.

    Without a matching key the presumed leaf is the first certificate that issued no other
    certificate of the bundle, so that facts (domains, expiry) still describe the right one.
    """
    if key_spki is not None:
        matching = [c for c in bundle if public_spki(c.x509) == key_spki]
        if matching:
            # A CA and its leaf never share a key in practice, but if they do, the leaf is the
            # one that issued nothing.
            ends = (c for c in matching if not linker.issues_another(c))
            return next(ends, matching[0]), True
    ends = (c for c in bundle if not linker.issues_another(c))
    return next(ends, bundle[0]), False


def build_chain(
    bundle: list[Cert],
    ca: list[Cert],
    key_spki: bytes | None,
    limits: Limits = DEFAULT_LIMITS,
    private_roots: PrivateRoots = NO_PRIVATE_ROOTS,
) -> ChainResult:
    """Order ``bundle`` (tls.crt) into leaf + chain, completing it from ``ca`` (ca.crt).

    ``ca`` contributes a certificate only when it really issued the current top of the chain;
    an unrelated CA (cert-manager often stores one there) is ignored. Signatures are verified
    only between certificates whose names link, at most ``limits.signature_checks(n)`` times.
    A chain whose top one of ``private_roots`` signed needs no root (no warning).
    """
    bundle = dedupe(bundle)
    if not bundle:
        return ChainResult(None, False, (), ())
    extra = dedupe(ca)
    # The budget grows with tls.crt only: a chain takes one or two links from ca.crt, however
    # large the trust bundle there.
    linker = _Linker(bundle, extra, limits.signature_checks(len(bundle)))
    leaf, matches = _pick_leaf(bundle, key_spki, linker)
    # The leaf is never its own chain, from tls.crt or from ca.crt.
    for index in (linker.by_subject, linker.ca_by_subject):
        same = index.get(leaf.x509.subject, [])
        same[:] = [c for c in same if c.der != leaf.der]
    used = {leaf.der}
    chain: list[Cert] = []
    top = leaf
    complete = linker.issued(leaf, leaf)
    while not complete:
        parent = linker.take_issuer(top, linker.by_subject, used)
        if parent is None:
            parent = linker.take_issuer(top, linker.ca_by_subject, used)
            if parent is None:
                break
        used.add(parent.der)
        chain.append(parent)
        top = parent
        complete = linker.issued(top, top)
    remaining = [c for c in bundle if c.der not in used]
    # Clients of a private PKI hold its root: a chain ending where it signed is whole to them.
    trusted = not complete and not remaining and linker.signed_by_root(top, private_roots)
    findings = _chain_findings(leaf, top, complete or trusted, remaining)
    if linker.gave_up:
        findings += (_gave_up(linker.budget, bundle + extra),)
    return ChainResult(leaf, matches, tuple(chain), findings)


def _gave_up(budget: int, certs: list[Cert]) -> Finding:
    shared = len(certs) - len({c.x509.subject for c in certs})
    return Finding(
        Code.BROKEN_CHAIN,
        f"the chain was not ordered: of {len(certs)} certificates in tls.crt and ca.crt, "
        f"{shared} share a subject name with another, which took more than {budget:,} "
        "signature checks; a real chain names each certificate once",
    )


def _listed(certs: list[Cert]) -> str:
    # A message ends up in a condition and an Event: a bundle of thousands must not spell
    # out thousands of names there.
    shown = subjects(c.x509 for c in certs[:_LISTED])
    more = len(certs) - _LISTED
    return f"{shown} and {more:,} more" if more > 0 else shown


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
                f"tls.crt: {_listed(unlinked)} do(es) not certify the chain; {why}",
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
