"""How much input the certificate core reads before it refuses, checked before any parsing.

A Secret is written by whoever may write Secrets in its namespace, so its bytes are hostile
input: a crafted ``tls.crt`` must cost a worker milliseconds, not minutes. Every limit is a
field of :class:`Limits`, so that a caller (a benchmark, a test, a future flag) can change one
without touching the code that enforces it.

Sources: ACM's limits are in the facts file (docs/reference, "What ImportCertificate
accepts"); the certificate and chain sizes there are UNVERIFIED, which is why they are
settings here and not literals in the rules.
"""

from __future__ import annotations

from dataclasses import dataclass

# Kubernetes refuses any object over 1 MiB (etcd's request limit), so no Secret field is
# larger; only `acm-sync check`, which reads files, can meet bigger input.
KUBERNETES_OBJECT_BYTES = 1024 * 1024
# ACM: at most 5,120 bytes of private key PEM (verified).
ACM_KEY_BYTES = 5120
# ACM: 32,768 bytes for the certificate and 2,097,152 for the chain (both UNVERIFIED).
ACM_CERTIFICATE_BYTES = 32 * 1024
ACM_CHAIN_BYTES = 2 * 1024 * 1024
# OpenSSL's default verify depth is 100 ("the peer certificate, at most 100 intermediate CA
# certificates and a final trust anchor", SSL_CTX_set_verify_depth(3)): a longer tls.crt can
# not verify in the clients most servers face. Public chains hold 2 to 4 certificates.
OPENSSL_DEFAULT_PATH_CERTIFICATES = 102
# A ca.crt may be a whole trust bundle (Mozilla's store holds about 150 roots); 1,000 leaves
# room for the largest distribution bundles and still bounds the parsing.
CA_BUNDLE_CERTIFICATES = 1000
# Signature checks per certificate of tls.crt, plus a floor. Finding the leaf and ordering a
# real chain of n certificates costs about n checks (one per link, the root's own); only
# certificates sharing names need more, and those get a BrokenChain instead of a worker stalled
# on n^2 verifications (Go's crypto/x509 caps chain building the same way). At the bundle
# limit that is 118 checks: about 20 ms with P-256 keys, 60 ms with P-384 ones.
SIGNATURE_CHECKS_PER_CERTIFICATE = 1
SIGNATURE_CHECKS_FLOOR = 16
# The raw tls.key read before any parsing: ACM's 5,120 bytes of canonical PEM, with room for
# CRLF line ends, comments and an EC PARAMETERS block. A key file four times that size cannot
# hold a key ACM takes.
KEY_FILE_BYTES = 4 * ACM_KEY_BYTES


@dataclass(frozen=True, slots=True)
class Limits:
    """The input bounds of one analysis; :data:`DEFAULT_LIMITS` is what the operator uses."""

    # Any one Secret field (tls.crt, ca.crt), raw bytes, before parsing.
    field_bytes: int = KUBERNETES_OBJECT_BYTES
    # PEM blocks (BEGIN lines) in tls.crt and in ca.crt, counted before decoding any.
    bundle_certificates: int = OPENSSL_DEFAULT_PATH_CERTIFICATES
    ca_certificates: int = CA_BUNDLE_CERTIFICATES
    # The material as sent to ACM (canonical PEM).
    certificate_bytes: int = ACM_CERTIFICATE_BYTES
    chain_bytes: int = ACM_CHAIN_BYTES
    key_bytes: int = ACM_KEY_BYTES
    key_file_bytes: int = KEY_FILE_BYTES
    signature_checks_per_certificate: int = SIGNATURE_CHECKS_PER_CERTIFICATE
    signature_checks_floor: int = SIGNATURE_CHECKS_FLOOR

    def signature_checks(self, certificates: int) -> int:
        """The verification budget for an analysis of ``certificates`` certificates."""
        return self.signature_checks_floor + self.signature_checks_per_certificate * certificates


DEFAULT_LIMITS = Limits()


# Wiring: an Ingress's or Service's acmsync.io/* annotations, written by whoever may edit it.
# An ALB serves at most 25 certificates besides its default one by default ("Quotas for your
# Application Load Balancers": Certificates per Application Load Balancer, excluding default
# certificates, 25, adjustable); an NLB the same. More ARNs in one annotation cannot all be
# served, so more names are refused before any is looked up.
LOAD_BALANCER_CERTIFICATES = 1 + 25
# acm-sync's record of its write (acmsync.io/wired): the ARNs (about 90 characters each), the
# names (at most 253) and the value before the first write, which acm-sync only ever takes
# over when it equals the ARNs it writes. 26 * (90 + 253 + 90) plus the keys is under 12 KiB.
WIRED_RECORD_BYTES = 16 * 1024
# Entries of one AcmCertificate's status.consumers: an entry is about 300 bytes, and the whole
# object must stay under etcd's 1.5 MiB request limit beside the regions' status.
STATUS_CONSUMERS = 100


@dataclass(frozen=True, slots=True)
class WiringLimits:
    """The bounds wiring puts on what a consumer's annotations make it read and write."""

    # AcmCertificates one consumer may name (acmsync.io/certificates and import together).
    certificates: int = LOAD_BALANCER_CERTIFICATES
    # The acmsync.io/wired record's length in characters, before it is parsed.
    record_chars: int = WIRED_RECORD_BYTES
    # status.consumers[] entries of one AcmCertificate; the rest is counted, not listed.
    status_consumers: int = STATUS_CONSUMERS


DEFAULT_WIRING_LIMITS = WiringLimits()
