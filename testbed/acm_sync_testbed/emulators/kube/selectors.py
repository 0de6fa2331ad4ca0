"""Label and field selectors, and the simple JSONPath subset printer columns use."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from acm_sync_testbed.emulators.kube.errors import ApiError

Matcher = Callable[[dict[str, Any]], bool]

_SET_RE = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_top(selector: str) -> list[str]:
    """Split on commas that are not inside a ``(...)`` value set."""
    parts, depth, current = [], 0, ""
    for char in selector:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _requirement(term: str) -> Callable[[dict[str, str]], bool]:
    match = _SET_RE.match(term)
    if match:
        key, op = match.group(1), match.group(2)
        values = {v.strip() for v in match.group(3).split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    for op in ("!=", "==", "="):
        if op in term:
            key, value = (s.strip() for s in term.split(op, 1))
            if op == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
    if term.startswith("!"):
        key = term[1:].strip()
        return lambda labels: key not in labels
    if re.fullmatch(r"[A-Za-z0-9._/-]+", term):
        return lambda labels: term in labels
    raise ApiError(400, f"unable to parse requirement: {term!r}")


def label_matcher(selector: str | None) -> Matcher:
    """A predicate for ``labelSelector`` (equality and set-based syntax)."""
    if not selector:
        return lambda _obj: True
    requirements = [_requirement(term) for term in _split_top(selector)]

    def match(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(req(labels) for req in requirements)

    return match


def field_value(obj: dict[str, Any], path: str) -> str:
    """The string form of a dotted field path, as field selectors compare it."""
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def field_matcher(selector: str | None) -> Matcher:
    """A predicate for ``fieldSelector``: ``path=value``, ``path==value``, ``path!=value``."""
    if not selector:
        return lambda _obj: True
    terms: list[tuple[str, str, bool]] = []
    for term in _split_top(selector):
        negate = "!=" in term
        path, value = re.split(r"!=|==|=", term, maxsplit=1)
        terms.append((path.strip(), value.strip(), negate))

    def match(obj: dict[str, Any]) -> bool:
        return all((field_value(obj, p) == v) != neg for p, v, neg in terms)

    return match


def jsonpath(obj: Any, path: str) -> Any:
    """Evaluate the simple paths printer columns use: ``.a.b``, ``.a[0].b``, ``.a[*].b``.

    Also the ``[?(@.type=="Ready")]`` filter form, the common way to show a condition.
    """
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    tokens = re.findall(
        r"\[\?\(@\.([\w.-]+)\s*==\s*[\"']([^\"']*)[\"']\)\]|\[(\*|\d+)\]|\.([\w-]+)", path
    )
    current: list[Any] = [obj]
    for filter_key, filter_value, index, name in tokens:
        following: list[Any] = []
        for value in current:
            if name and isinstance(value, dict) and name in value:
                following.append(value[name])
            elif index == "*" and isinstance(value, list):
                following.extend(value)
            elif index and index.isdigit() and isinstance(value, list) and int(index) < len(value):
                following.append(value[int(index)])
            elif filter_key and isinstance(value, list):
                following.extend(
                    v
                    for v in value
                    if isinstance(v, dict) and field_value(v, filter_key) == filter_value
                )
        current = following
    if not current:
        return None
    return current[0] if len(current) == 1 else current
