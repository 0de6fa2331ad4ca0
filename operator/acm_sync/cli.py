"""Command-line entry point: a thin dispatcher over the subcommands.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and
``main(args) -> int``. Modules are imported only when their subcommand runs, so that
``acm-sync check`` never pays for importing kopf, boto3 or the Kubernetes client.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol, cast

from acm_sync import __version__

# subcommand -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "check": (
        "acm_sync.check_cli",
        "validate a TLS Secret or PEM files against ACM's import rules",
    ),
    "run": ("acm_sync.controller.main", "run the operator"),
    "playground": (
        "acm_sync.playground",
        "run a local Kubernetes API emulator, ACM emulator and the operator",
    ),
    "demo": ("acm_sync.demo", "walk through the whole product on the embedded emulators"),
}

EXIT_USAGE = 2


class _Subcommand(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def main(self, args: argparse.Namespace) -> int: ...


def _load(name: str) -> _Subcommand:
    module_name = SUBCOMMANDS[name][0]
    return cast(_Subcommand, importlib.import_module(module_name))


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; return the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="acm-sync",
        description="Keep Kubernetes TLS Secrets imported into AWS Certificate Manager.",
    )
    parser.add_argument("--version", action="version", version=f"acm-sync {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Only the chosen subcommand's module is imported; the others appear in --help by name.
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (_module, help_text) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            _load(name).add_arguments(sp)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return _load(args.command).main(args)
    except KeyboardInterrupt:
        return 130
