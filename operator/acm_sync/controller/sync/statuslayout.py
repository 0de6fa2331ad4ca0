"""Where the AcmCertificate status keeps the operator's own bookkeeping.

The digests the operator compares (the Secret's content hash, certificate fingerprints, the hash
of the tags applied) mean nothing to people, yet ``kubectl describe`` prints every status field.
They are stored together under ``status.internal``, out of the way of what people read:

    internal:
      contentHash: <the Secret's tls.crt, tls.key and ca.crt>
      fingerprint: <the Secret's certificate>
      pairs: {<region or target/region>: {fingerprint: ..., tagsHash: ...}}

The rest of the operator reasons about one working layout, the one the previous version
stored: the digests next to what they describe (``secret.contentHash``, ``secret.fingerprint``,
``regions[].fingerprint``, ``regions[].tagsHash``). :func:`unpack` turns a stored status of
either layout into it, so a status written by the previous version is still understood (an
upgrade makes no AWS call); :func:`pack` turns it into the stored layout.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

JsonObj = dict[str, Any]

INTERNAL = "internal"
SECRET_DIGESTS = ("contentHash", "fingerprint")
PAIR_DIGESTS = ("fingerprint", "tagsHash")


def pair_key(entry: Mapping[str, Any]) -> str:
    """``region`` for the operator's own account, ``target/region`` through an AcmTarget."""
    target = entry.get("target")
    region = str(entry.get("region"))
    return f"{target}/{region}" if isinstance(target, str) and target else region


def is_packed(status: Mapping[str, Any] | None) -> bool:
    """Whether ``status`` was written in the stored layout (by this version)."""
    return isinstance((status or {}).get(INTERNAL), dict)


def unpack(status: Mapping[str, Any] | None) -> JsonObj:
    """The working layout of a stored status (either layout; a new dict, ``status`` kept)."""
    result: JsonObj = dict(status or {})
    internal = result.pop(INTERNAL, None)
    if not isinstance(internal, dict):
        return result  # the previous version's layout is the working layout
    if isinstance(result.get("secret"), dict):
        secret = dict(result["secret"])
        for key in SECRET_DIGESTS:
            if isinstance(internal.get(key), str):
                secret[key] = internal[key]
        result["secret"] = secret
    pairs = internal.get("pairs")
    if not isinstance(pairs, dict):
        pairs = {}
    if isinstance(result.get("regions"), list):
        regions = []
        for entry in result["regions"]:
            if isinstance(entry, dict) and isinstance(entry.get("region"), str):
                digests = pairs.get(pair_key(entry))
                if isinstance(digests, dict):
                    entry = {**entry, **{k: v for k, v in digests.items() if k in PAIR_DIGESTS}}
            regions.append(entry)
        result["regions"] = regions
    return result


def pack(status: Mapping[str, Any]) -> JsonObj:
    """The stored layout of a working-layout status: every digest under ``internal``."""
    result: JsonObj = dict(status)
    internal: JsonObj = {}
    if isinstance(result.get("secret"), dict):
        secret = dict(result["secret"])
        for key in SECRET_DIGESTS:
            if key in secret:
                internal[key] = secret.pop(key)
        result["secret"] = secret
    pairs: JsonObj = {}
    if isinstance(result.get("regions"), list):
        regions = []
        for entry in result["regions"]:
            if isinstance(entry, dict) and isinstance(entry.get("region"), str):
                digests = {k: entry[k] for k in PAIR_DIGESTS if k in entry}
                if digests:
                    pairs[pair_key(entry)] = digests
                entry = {k: v for k, v in entry.items() if k not in PAIR_DIGESTS}
            regions.append(entry)
        result["regions"] = regions
    if pairs:
        internal["pairs"] = pairs
    # Always present, even empty: it marks the status as written in this layout.
    result[INTERNAL] = internal
    return result
