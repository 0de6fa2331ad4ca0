"""No operator module re-names an enum member in a module-level constant (issue 21).

``SYNCED = Reason.SYNCED`` gives one value two names: a reader has to look up which enum the
short name stands for, and a grep for ``Reason.SYNCED`` misses its uses. Code names the member
itself. A module-level name for a group of members (a tuple, a frozenset) is a real constant
and stays allowed; so are aliases of enums the project does not define (``logging.WARNING``).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "operator" / "acm_sync"
ENUM_BASES = frozenset({"Enum", "StrEnum", "IntEnum", "Flag", "IntFlag"})


def _last_name(node: ast.expr) -> str | None:
    """``Reason`` for ``Reason`` or ``reasons.Reason``; None for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def enum_classes(trees: dict[str, ast.Module]) -> frozenset[str]:
    """Names of the classes in ``trees`` that derive, directly or not, from an ``enum`` base."""
    bases_of = {
        node.name: {_last_name(base) for base in node.bases}
        for tree in trees.values()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
    }
    found: set[str] = set()
    while True:
        more = {name for name, bases in bases_of.items() if bases & (ENUM_BASES | found)} - found
        if not more:
            return frozenset(found)
        found |= more


def enum_aliases(package: Path) -> list[str]:
    """``path:line NAME = Enum.MEMBER`` for every module-level alias of a member of the
    package's own enums."""
    trees = {
        module.relative_to(package.parent).as_posix(): ast.parse(module.read_text())
        for module in sorted(package.rglob("*.py"))
    }
    enums = enum_classes(trees)
    found = []
    for path, tree in trees.items():
        for node in tree.body:
            if not isinstance(node, ast.Assign | ast.AnnAssign):
                continue
            value = node.value
            if isinstance(value, ast.Attribute) and _last_name(value.value) in enums:
                found.append(f"{path}:{node.lineno} {ast.unparse(node)}")
    return found


def test_no_module_level_enum_aliases() -> None:
    """Every operator module uses enum members by their own name (``Reason.SYNCED``)."""
    found = enum_aliases(PACKAGE)
    listing = "\n".join(f"  {line}" for line in found)
    assert not found, f"module-level aliases of enum members (use the member itself):\n{listing}"


def test_finds_aliases_of_the_projects_enums_only(tmp_path: Path) -> None:
    """An alias of a project enum's member is found, also through a derived enum, an
    annotation or a module prefix; stdlib values and groups of members are not."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "reasons.py").write_text(
        "from enum import StrEnum\n"
        "class Reason(StrEnum):\n    SYNCED = 'Synced'\n"
        "class Base(StrEnum):\n    pass\n"
        "class Derived(Base):\n    X = 'x'\n"
    )
    (package / "sub" / "user.py").write_text(
        "import logging\n"
        "from pkg import reasons\n"
        "from pkg.reasons import Derived, Reason\n"
        "SYNCED = Reason.SYNCED\n"
        "X: str = Derived.X\n"
        "PREFIXED = reasons.Reason.SYNCED\n"
        "LEVEL = logging.WARNING\n"
        "GROUP = (Reason.SYNCED,)\n"
        "LIMIT = 400\n"
        "def f() -> str:\n    local = Reason.SYNCED\n    return local\n"
    )
    assert enum_aliases(package) == [
        "pkg/sub/user.py:4 SYNCED = Reason.SYNCED",
        "pkg/sub/user.py:5 X: str = Derived.X",
        "pkg/sub/user.py:6 PREFIXED = reasons.Reason.SYNCED",
    ]
