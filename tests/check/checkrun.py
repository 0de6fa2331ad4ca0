"""Running the installed ``acm-sync check`` and building Secret manifests for it."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACM_SYNC = Path(sys.executable).with_name("acm-sync")


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        parsed = json.loads(self.out)
        assert isinstance(parsed, dict)
        return parsed


def run_check(*args: str | Path, stdin: bytes | None = None) -> Result:
    """Run the installed ``acm-sync check`` as users do, bounded in time."""
    proc = subprocess.run(
        [ACM_SYNC, "check", *map(str, args)],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


def key_fragments(key_pem: bytes) -> list[str]:
    """Slices of the key's base64 body, and of the base64 of the whole PEM (as in Secret data)."""
    body = b"".join(
        line.strip() for line in key_pem.splitlines() if line and not line.startswith(b"-----")
    ).decode("ascii")
    wrapped = base64.b64encode(key_pem).decode("ascii")
    return [s[i : i + 24] for s in (body, wrapped) for i in range(0, len(s) - 24, 150)]


def tls_secret(
    cert: bytes, key: bytes, ca: bytes | None = None, **extra: object
) -> dict[str, object]:
    data = {"tls.crt": cert, "tls.key": key} | ({"ca.crt": ca} if ca is not None else {})
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {"name": "shop-tls", "namespace": "web"},
        "data": {k: base64.b64encode(v).decode("ascii") for k, v in data.items()},
        **extra,
    }
