"""The demo tests drive `acm-sync playground` through the playground tests' kit (playkit)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1] / "playground"))
