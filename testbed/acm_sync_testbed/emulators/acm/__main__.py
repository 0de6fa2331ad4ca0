"""``python -m acm_sync_testbed.emulators.acm --port N``: the strict ACM emulator as a process."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence

from acm_sync_testbed.emulators.acm.server import AcmEmulator


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGINT/SIGTERM; prints one JSON line with the URL once listening."""
    parser = argparse.ArgumentParser(prog="python -m acm_sync_testbed.emulators.acm")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--import-quota", type=int, default=None, help="imports per region")
    parser.add_argument(
        "--rate",
        action="append",
        default=[],
        metavar="API=PER_SECOND",
        help="throttle an API, e.g. --rate ImportCertificate=1 (repeatable)",
    )
    parser.add_argument(
        "--extra-region",
        action="append",
        default=[],
        metavar="REGION",
        help="serve a region the installed botocore does not know (repeatable)",
    )
    parser.add_argument(
        "--role",
        action="append",
        default=[],
        metavar="ROLE_ARN[=EXTERNAL_ID]",
        help="a role STS AssumeRole may assume, with the external id it needs (repeatable)",
    )
    args = parser.parse_args(argv)
    roles: dict[str, str | None] = {}
    for item in args.role:
        arn, sep, external_id = item.partition("=")
        roles[arn] = external_id if sep else None
    rates = {}
    for item in args.rate:
        api, _, value = item.partition("=")
        rates[api] = float(value)
    emulator = AcmEmulator(
        args.host,
        args.port,
        rates=rates,
        import_quota=args.import_quota,
        extra_regions=args.extra_region,
        roles=roles,
    )
    emulator.start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(json.dumps({"url": emulator.url}), flush=True)
    stop.wait()
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
