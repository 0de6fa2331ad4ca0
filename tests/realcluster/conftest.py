"""Tests only a real API server can answer: RBAC, CEL and OpenAPI validation, Pod Security
admission, garbage collection, cert-manager, and the real Helm and promtool binaries."""

from __future__ import annotations

import sys
from pathlib import Path

# The kits of the other test directories: kubectl (playkit), the typed client (kubekit), the
# operator process and ACM assertions (opkit), test certificates (opcerts).
for kit in ("playground", "kube", "operator"):
    sys.path.append(str(Path(__file__).resolve().parents[1] / kit))
