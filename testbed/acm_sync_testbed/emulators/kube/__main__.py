"""``python -m acm_sync_testbed.emulators.kube --port N --kubeconfig PATH``: the emulator."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from acm_sync_testbed.emulators.kube.server import KubeEmulator


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM; exit 0 after a clean shutdown."""
    parser = argparse.ArgumentParser(
        prog="python -m acm_sync_testbed.emulators.kube", description=__doc__
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--kubeconfig", help="write a kubeconfig for the emulator here")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    emulator = KubeEmulator(host=args.host, port=args.port).start()
    if args.kubeconfig:
        emulator.write_kubeconfig(args.kubeconfig)
    print(f"Kubernetes API emulator ready at {emulator.url}", flush=True)
    if args.kubeconfig:
        print(f"export KUBECONFIG={args.kubeconfig}", flush=True)
    while not stop.wait(0.5):
        pass
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
