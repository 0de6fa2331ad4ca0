"""Run the fuzz targets one after another and report on each.

``python -m fuzz.run --seconds 5`` is the short run of ``make test`` (``make fuzz-short``);
``make fuzz`` runs each target for FUZZ_SECONDS (300 by default) and keeps its corpus in
``.fuzz/``. Per target it prints the executions, the rate and the slowest input; it fails
when a target finds an input that breaks its properties (libFuzzer saves it in the
artifacts folder and prints how to replay it).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fuzz.harness import ROOT, STATS_ENV, write_seeds

TARGETS = (
    "fuzz_pem",
    "fuzz_chain",
    "fuzz_keys",
    "fuzz_spec",
    "fuzz_annotations",
    "fuzz_tags",
    "fuzz_wiring",
)
_EXECUTIONS = re.compile(rb"stat::number_of_executed_units:\s*(\d+)")


def run_one(target: str, seconds: int, corpus: Path, artifacts: Path) -> bool:
    """Fuzz one target for ``seconds``; print its figures; True when it found nothing."""
    module = importlib.import_module(f"fuzz.{target}")
    if not any(corpus.iterdir()) if corpus.exists() else True:
        write_seeds(corpus, module.seeds())
    artifacts.mkdir(parents=True, exist_ok=True)
    stats = artifacts / f"{target}.slowest"
    stats.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        f"fuzz.{target}",
        f"-max_total_time={seconds}",
        "-print_final_stats=1",
        "-timeout=10",  # libFuzzer's own guard; the harness fails at 1 s already
        f"-artifact_prefix={artifacts}/{target}-",
        str(corpus),
    ]
    start = time.monotonic()
    proc = subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, STATS_ENV: str(stats)},
        capture_output=True,
        timeout=seconds * 3 + 120,
        check=False,
    )
    took = time.monotonic() - start
    found = _EXECUTIONS.search(proc.stderr)
    executions = int(found.group(1)) if found else 0
    slowest = stats.read_text().split() if stats.exists() else ["0", "0"]
    print(
        f"{target:<18} {executions:>9,} executions in {took:5.1f} s "
        f"({executions / max(took, 1e-9):8,.0f}/s); slowest input "
        f"{float(slowest[0]) * 1000:7.1f} ms ({slowest[1]} bytes)",
        flush=True,
    )
    if proc.returncode != 0:
        output = proc.stderr.decode(errors="replace")
        start = output.find("=== Uncaught Python exception")
        sys.stdout.write(output[start:][:6000] if start >= 0 else output[-4000:])
        print(f"{target}: FAILED (exit {proc.returncode}); the input is in {artifacts}")
        return False
    return True


def main() -> int:
    """Parse the arguments, run the targets, exit non-zero if any failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="per target")
    parser.add_argument("--corpus", type=Path, help="keep corpora here (default: a temporary one)")
    parser.add_argument("targets", nargs="*", default=list(TARGETS))
    args = parser.parse_args()
    if importlib.util.find_spec("atheris") is None:
        # atheris ships wheels for Linux only (the dev extra installs it there).
        print("fuzz: atheris is not installed here (Linux only); skipped")
        return 0
    with tempfile.TemporaryDirectory(prefix="acm-sync-fuzz-") as tmp:
        base = args.corpus or Path(tmp)
        results = [
            run_one(t, args.seconds, base / "corpus" / t, base / "artifacts") for t in args.targets
        ]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
