"""Where the operator's memory goes after a warm restart: tracemalloc by traceback, per object.

Seeds N synced AcmCertificates x 3 regions (bench/scalekit.py), lets a first start write the
conditions, then restarts the operator under this script's own wrapper: ``acm-sync run``
in-process with tracemalloc on. Once every object was reconciled and the cluster is quiet, the
wrapper is sent SIGUSR1 and dumps a snapshot; this script prints the largest retained
allocations (by line and by traceback, in KB per object) and tracemalloc's peak, which is the
start-up burst's high-water of Python allocations (the RSS keeps the arenas it left behind).

Usage: python bench/memprofile.py [--n 1000] [--frames 25] [--top 25] [--keep DIR]
       python bench/memprofile.py --imports     # import cost of `acm-sync run` (bare RSS)

Timings are meaningless under tracemalloc; memory figures are what this is for.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve()
WRAPPER_FLAG = "--as-operator"  # argv[1] of the wrapper role: the rest is `acm-sync` argv


def rss_kb(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def operator_role(argv: list[str]) -> int:
    """Run ``acm-sync`` in this process with tracemalloc; SIGUSR1 dumps a snapshot.

    MEMPROFILE_FRAMES=0: no tracemalloc; SIGUSR1 then asks glibc to return free heap memory
    (malloc_trim) and records the RSS before and after, to tell freed-but-kept memory from
    memory in use.
    """
    frames = int(os.environ.get("MEMPROFILE_FRAMES", "25"))
    out = Path(os.environ["MEMPROFILE_OUT"])

    def trim(*_: object) -> None:
        import ctypes

        before = rss_kb()
        sys._debugmallocstats()  # pymalloc's arenas and free blocks, to the operator's log
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        parts = {f: rss_kb(f) for f in ("RssAnon", "RssFile", "VmHWM")}
        out.with_suffix(".json").write_text(
            json.dumps({"before": before, "after": rss_kb(), **parts})
        )

    if not frames:
        signal.signal(signal.SIGUSR1, trim)
        from acm_sync.cli import main as run

        return run(argv)
    tracemalloc.start(frames)

    def dump(*_: object) -> None:
        current, peak = tracemalloc.get_traced_memory()
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)]
        )
        snapshot.dump(str(out))
        out.with_suffix(".json").write_text(json.dumps({"current": current, "peak": peak}))

    signal.signal(signal.SIGUSR1, dump)
    threading.Thread(target=watch_peak, args=(out.with_suffix(".peak"),), daemon=True).start()
    from acm_sync.cli import main

    return main(argv)


def watch_peak(path: Path) -> None:
    """Snapshot the traced memory whenever it reaches a new high (by 5%): the burst's content."""
    best = 0
    while True:
        time.sleep(0.5)
        current = tracemalloc.get_traced_memory()[0]
        if current > best * 1.05 and current > 40 * 2**20:
            tracemalloc.take_snapshot().filter_traces(
                [tracemalloc.Filter(False, tracemalloc.__file__)]
            ).dump(str(path))
            best = current


def short(frame: tracemalloc.Frame) -> str:
    name = frame.filename
    for marker in ("site-packages/", "operator/", "lib/python3"):
        if marker in name:
            name = name.split(marker, 1)[1]
            break
    return f"{name}:{frame.lineno}"


def report(snapshot_path: Path, n: int, top: int) -> None:
    """Print the top retained allocations of a snapshot, per object."""
    snapshot = tracemalloc.Snapshot.load(str(snapshot_path))
    traced = json.loads(snapshot_path.with_suffix(".json").read_text())
    total = sum(s.size for s in snapshot.statistics("filename"))
    now_mb, peak_mb = traced["current"] / 2**20, traced["peak"] / 2**20
    print(f"\ntraced now {now_mb:.1f} MB, peak {peak_mb:.1f} MB (the start-up burst's "
          f"high-water); {total / n / 1024:.1f} KB per object in all")  # fmt: skip
    print(f"\nTop {top} by file")
    for stat in snapshot.statistics("filename")[:top]:
        print(
            f"  {stat.size / 1024:9.0f} KB {stat.size / n:8.0f} B/obj  {short(stat.traceback[0])}"
        )
    print(f"\nTop {top} by line")
    for stat in snapshot.statistics("lineno")[:top]:
        print(
            f"  {stat.size / 1024:9.0f} KB {stat.size / n:8.0f} B/obj {stat.count:8d} blocks  "
            f"{short(stat.traceback[0])}"
        )
    peak_path = snapshot_path.with_suffix(".peak")
    if peak_path.exists():
        high = tracemalloc.Snapshot.load(str(peak_path))
        high_mb = sum(st.size for st in high.statistics("filename")) / 2**20
        print(f"\nAt the highest snapshot of the burst ({high_mb:.1f} MB), more than after it:")
        for diff in high.compare_to(snapshot, "lineno")[:top]:
            if diff.size_diff <= 0:
                continue
            print(f"  {diff.size_diff / 1024:9.0f} KB {diff.size_diff / n:8.0f} B/obj  "
                  f"{short(diff.traceback[0])}")  # fmt: skip
    print(f"\nTop {top} by traceback (innermost frame, then the nearest acm_sync/kopf frames)")
    for stat in snapshot.statistics("traceback")[:top]:
        frames = list(stat.traceback)  # oldest first
        inner = frames[-1]
        ours = [short(f) for f in frames if "acm_sync" in f.filename or "/kopf/" in f.filename]
        print(f"  {stat.size / 1024:9.0f} KB {stat.size / n:8.0f} B/obj  {short(inner)}")
        for line in ours[-6:]:
            print(f"      via {line}")


def imports() -> None:
    """Cumulative import time and the RSS of `acm-sync run`'s import graph."""
    code = (
        "import resource, acm_sync.controller.main, acm_sync.controller.runtime, "
        "acm_sync.aws.engine; "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True
    )
    packages: list[tuple[int, str]] = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self_us, cumulative, module = line.split(":", 1)[1].split("|", 2)
        # A package root (no dot) is where a library's whole import graph is first paid for.
        if "." not in module.strip():
            packages.append((int(cumulative), module.strip()))
    print(f"max RSS after importing the operator: {int(done.stdout.strip()) / 1024:.1f} MB")
    print("package roots by cumulative import time (us), where first imported:")
    for micros, module in sorted(packages, reverse=True)[:20]:
        print(f"  {micros:9d}  {module}")


def profile(n: int, frames: int, top: int, keep: Path | None, env: dict[str, str]) -> None:
    sys.path.insert(0, str(HERE.parent))
    from scalekit import Operator, emulators, quiet, seed_synced

    from acm_sync.aws.settings import DEFAULT_RATES

    with tempfile.TemporaryDirectory(prefix="acm-sync-memprofile-") as tmp_name:
        tmp = keep or Path(tmp_name)
        tmp.mkdir(parents=True, exist_ok=True)
        with emulators(tmp) as cluster:
            t = time.monotonic()
            seed_synced(cluster, n)
            cluster.acm.acm.set_rates(dict(DEFAULT_RATES))
            print(f"seeded N={n} in {time.monotonic() - t:.0f}s")
            log = tmp / "operator.log"
            with Operator(cluster, log) as op:
                op.wait(lambda: op.synced() >= n, 120 + n / 5, "first start's reconciles")
                quiet(cluster)
            out = tmp / f"snapshot-n{n}.tracemalloc"
            launcher = [sys.executable, str(HERE), WRAPPER_FLAG]
            env = {**env, "MEMPROFILE_OUT": str(out), "MEMPROFILE_FRAMES": str(frames)}
            with Operator(cluster, log, launcher=launcher, extra_env=env) as op:
                took = op.wait(lambda: op.synced() >= n, 300 + n, "warm restart's reconciles")
                quiet(cluster)
                rss = op.proc_kb("VmRSS")
                os.kill(op.process.pid, signal.SIGUSR1)
                deadline = time.monotonic() + 300
                while not out.with_suffix(".json").exists() and time.monotonic() < deadline:
                    time.sleep(0.5)
            print(f"warm restart under tracemalloc: {took:.0f}s, RSS {rss / 1024:.0f} MB "
                  "(tracemalloc's own bookkeeping included)")  # fmt: skip
            if frames:
                report(out, n, top)
            else:
                trimmed = json.loads(out.with_suffix(".json").read_text())
                print(f"RSS {trimmed['before'] / 1024:.1f} MB, after malloc_trim "
                      f"{trimmed['after'] / 1024:.1f} MB (anonymous "
                      f"{trimmed['RssAnon'] / 1024:.1f}, files {trimmed['RssFile'] / 1024:.1f}); "
                      f"peak {trimmed['VmHWM'] / 1024:.1f} MB")  # fmt: skip


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == WRAPPER_FLAG:
        return operator_role(sys.argv[2:])
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument(
        "--frames", type=int, default=25, help="0: no tracemalloc, RSS before/after malloc_trim"
    )
    parser.add_argument(
        "--env", action="append", default=[], help="NAME=VALUE for the operator (repeatable)"
    )
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--keep", type=Path, help="keep the snapshot and log here")
    parser.add_argument("--imports", action="store_true", help="only the import cost")
    args = parser.parse_args()
    if args.imports:
        imports()
    else:
        env = dict(item.split("=", 1) for item in args.env)
        profile(args.n, args.frames, args.top, args.keep, env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
