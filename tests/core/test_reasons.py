"""Reasons are written once, in core/reasons.py (or findings.Code), and used by name elsewhere.

A reason spelt as a string literal in a module escapes mypy and the docs check: a typo would
reach users' alerts unnoticed.
"""

from __future__ import annotations

import ast
from pathlib import Path

from acm_sync.core.findings import Code
from acm_sync.core.reasons import (
    ConditionType,
    EventReason,
    EventType,
    QuietReason,
    Reason,
    WriteReason,
)

PACKAGE = Path(__file__).resolve().parents[2] / "operator" / "acm_sync"
VOCABULARY = (Reason, WriteReason, QuietReason, EventReason, ConditionType, EventType, Code)
# AWS error codes that happen to be spelt like one of our reasons: they name AWS's answer.
AWS_ERROR_CODES = {"AccessDenied"}


def _enum_class_nodes(tree: ast.Module) -> set[int]:
    """Nodes inside StrEnum class bodies: the definitions themselves, not uses."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(
            isinstance(base, ast.Name) and base.id == "StrEnum" for base in node.bases
        ):
            inside.update(id(sub) for sub in ast.walk(node))
    return inside


def test_no_module_spells_a_reason_as_a_string_literal() -> None:
    values = {str(member) for enum in VOCABULARY for member in enum} - AWS_ERROR_CODES
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        definitions = _enum_class_nodes(tree)
        found += [
            f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.value!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value in values
            and id(node) not in definitions
        ]
    assert not found, "use the members of core/reasons.py (or findings.Code):\n" + "\n".join(found)


def test_a_value_means_one_thing_within_the_status_reasons() -> None:
    # Ready and status.regions[] reasons are one namespace for users: a value defined twice
    # would be two things under one name (finding codes are reused, never copied).
    status = [*Reason, *WriteReason, *QuietReason]
    assert len({str(r) for r in status}) == len(status)
    assert not {str(r) for r in status} & {str(c) for c in Code}
