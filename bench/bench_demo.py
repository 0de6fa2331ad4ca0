"""`make demo` from a fresh clone, timed: what a new user waits for after `git clone`.

Clones this repository (its committed HEAD) into a temporary folder and runs `make demo` there
with an empty uv cache, as on a machine that never installed anything; then once more in the
same clone (nothing to install: the demo alone). Prints both wall times, the CPU time of the
first, the venv's size and the machine's load average before and after (the machine may be
shared: the times mean little without it).

Usage: python bench/bench_demo.py
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The promise: a fresh clone's whole `make demo` within 45 s on 2 cores.
TARGET_SECONDS = 45.0


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def make_demo(clone: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the children) of one `make demo` in ``clone``."""
    cpu = children_cpu()
    start = time.monotonic()
    done = subprocess.run(
        ["make", "demo"], cwd=clone, env=env, capture_output=True, text=True, check=False
    )
    wall = time.monotonic() - start
    if done.returncode != 0:
        sys.exit(f"make demo failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr}")
    return wall, children_cpu() - cpu


def size_mb(folder: Path) -> float:
    total = sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() or p.is_symlink())
    return total / 1e6


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="acm-sync-bench-demo-") as tmp:
        clone = Path(tmp) / "acm-sync"
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
        env = {**os.environ, "UV_CACHE_DIR": str(Path(tmp) / "uv-cache")}
        print(f"load average before: {load()} ({os.cpu_count()} cores)")
        cold, cold_cpu = make_demo(clone, env)
        print(f"load average after:  {load()}")
        warm, _ = make_demo(clone, env)
        venv = size_mb(clone / ".venv")
        verdict = "within" if cold <= TARGET_SECONDS else "OVER"
        print(
            f"fresh clone, empty caches: make demo {cold:.1f} s wall ({cold_cpu:.1f} s CPU), "
            f"{verdict} the {TARGET_SECONDS:.0f} s target"
        )
        print(f"again in the same clone (nothing to install): {warm:.1f} s")
        print(f".venv: {venv:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
