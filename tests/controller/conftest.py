"""The in-process controller tests use the operator tests' certificates (opcerts)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1] / "operator"))
