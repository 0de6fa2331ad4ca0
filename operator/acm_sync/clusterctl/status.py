"""``acm-sync status NAME``: one AcmCertificate, pair by pair, with its Events and its Secret.

Exit codes: 0 when it is Ready, 1 when it does not exist or is not Ready, 2 when the cluster
cannot be reached or the configuration is unusable.
"""

from __future__ import annotations

import argparse
import sys

from acm_sync.clusterctl import context, report

HELP = "show an AcmCertificate: per (account, region) its ARN, serial, expiry, use and Events"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options."""
    context.add_arguments(parser)


def main(args: argparse.Namespace) -> int:
    """Print the report; the exit code says whether the object is Ready."""
    try:
        conn = context.connect(args)
        try:
            found = report.gather(conn, args.name)
        finally:
            conn.close()
    except context.CommandError as exc:
        print(f"acm-sync status: {exc}", file=sys.stderr)
        return context.EXIT_ERROR
    except Exception as exc:  # an unreachable API server, TLS trouble: one line, no traceback
        print(f"acm-sync status: cannot talk to the Kubernetes API: {exc}", file=sys.stderr)
        return context.EXIT_ERROR
    if found is None:
        print(
            f"acm-sync status: AcmCertificate {conn.namespace}/{args.name} not found",
            file=sys.stderr,
        )
        return context.EXIT_NOT_READY
    sys.stdout.write(report.render(found))
    return 0 if found.ready else context.EXIT_NOT_READY
