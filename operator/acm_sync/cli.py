"""Command-line entry point: a thin dispatcher over the subcommands.

Each subcommand lives in its own module exposing ``HELP`` (a one-line string literal),
``add_arguments(parser)`` and ``main(args) -> int``. ``check``, ``run``, ``status`` and
``resync`` are built in; other
distributions add subcommands through the ``acm_sync.commands`` entry point group, whose
entries name such a module (the test bed registers ``playground`` and ``demo`` this way).

Modules are imported only when their subcommand runs, so that ``acm-sync check`` never pays for
importing kopf, boto3, the Kubernetes client or an installed plugin.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Protocol, cast

from acm_sync import __version__

ENTRY_POINT_GROUP = "acm_sync.commands"

# subcommand -> (module, one-line help)
BUILTIN: dict[str, tuple[str, str]] = {
    "check": (
        "acm_sync.check_cli",
        "validate a TLS Secret or PEM files against ACM's import rules",
    ),
    "run": ("acm_sync.controller.main", "run the operator"),
    "status": (
        "acm_sync.clusterctl.status",
        "show an AcmCertificate: per (account, region) its ARN, serial, expiry, use and Events",
    ),
    "resync": (
        "acm_sync.clusterctl.resync",
        "make the operator verify an AcmCertificate against ACM now (and repair it)",
    ),
}

EXIT_USAGE = 2


class _Subcommand(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def main(self, args: argparse.Namespace) -> int: ...


def plugin_modules() -> dict[str, str]:
    """Subcommand name -> module, from the installed ``acm_sync.commands`` entry points.

    Built-in names win: a plugin cannot replace ``check`` or ``run``.
    """
    # An entry names a module; any ":attr" part is ignored, as the module is the command.
    found = {ep.name: ep.module for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return {name: module for name, module in sorted(found.items()) if name not in BUILTIN}


def static_help(module_name: str) -> str:
    """The module's ``HELP`` string, read from its source without running the module.

    Importing a plugin just to describe it in ``--help`` would import the emulators and their
    libraries; reading the literal keeps ``--help`` as cheap as it is for built-in commands.
    Empty if the source or the literal cannot be found.
    """
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return ""
    if spec is None or spec.loader is None or not spec.has_location:
        return ""
    get_source = getattr(spec.loader, "get_source", None)
    try:
        source = get_source(module_name) if get_source is not None else None
        tree = ast.parse(source or "")
    except (ImportError, OSError, SyntaxError):
        return ""
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "HELP" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    return ""


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
    modules = {name: module for name, (module, _help) in BUILTIN.items()}
    modules.update(plugin_modules())
    for name, module_name in modules.items():
        command = _load(module_name) if name == chosen else None
        if name in BUILTIN:
            help_text = BUILTIN[name][1]
        elif command is not None:
            help_text = str(getattr(command, "HELP", ""))
        elif chosen is None:
            # Only the top-level help shows another command's line; read it, don't import it.
            help_text = static_help(module_name)
        else:
            help_text = ""
        sp = sub.add_parser(name, help=help_text, description=help_text or None)
        if command is not None:
            command.add_arguments(sp)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return _load(modules[args.command]).main(args)
    except KeyboardInterrupt:
        return 130


def _load(module_name: str) -> _Subcommand:
    return cast(_Subcommand, importlib.import_module(module_name))
