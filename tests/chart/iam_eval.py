"""A minimal evaluator of identity-based IAM Allow statements, enough for docs/iam-policy.json.

It understands the operators the policy uses (StringEquals, StringLike, their IfExists forms,
StringNotLike with ForAllValues, Null) and wildcard matching of actions and resources. Anything
else raises, so a policy edit that the evaluator cannot judge fails loudly instead of passing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any


@dataclass(frozen=True)
class Request:
    """One API call as IAM sees it."""

    action: str
    resource: str
    request_tags: Mapping[str, str] = field(default_factory=dict)
    resource_tags: Mapping[str, str] | None = None  # None: the resource does not exist yet
    tag_keys: Sequence[str] | None = None  # aws:TagKeys; defaults to the request tags' keys

    def context(self) -> dict[str, list[str]]:
        """The condition keys present in this request, each as a list of values."""
        ctx: dict[str, list[str]] = {}
        for key, value in self.request_tags.items():
            ctx[f"aws:RequestTag/{key}"] = [value]
        for key, value in (self.resource_tags or {}).items():
            ctx[f"aws:ResourceTag/{key}"] = [value]
        keys = list(self.request_tags) if self.tag_keys is None else list(self.tag_keys)
        if keys:
            ctx["aws:TagKeys"] = keys
        return ctx


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _condition_holds(operator: str, key: str, expected: Any, ctx: dict[str, list[str]]) -> bool:
    wanted = _as_list(expected)
    present = ctx.get(key)
    if operator == "Null":
        return (present is None) == (wanted == ["true"])
    if operator == "StringEquals":
        return present is not None and any(v in wanted for v in present)
    if operator == "StringEqualsIfExists":
        return present is None or any(v in wanted for v in present)
    if operator == "StringLike":
        return present is not None and any(fnmatchcase(v, w) for v in present for w in wanted)
    if operator == "StringLikeIfExists":
        return present is None or any(fnmatchcase(v, w) for v in present for w in wanted)
    if operator == "ForAllValues:StringNotLike":
        return all(not any(fnmatchcase(v, w) for w in wanted) for v in present or [])
    raise NotImplementedError(f"condition operator {operator} is not modelled")


def _statement_allows(statement: Mapping[str, Any], request: Request) -> bool:
    if statement["Effect"] != "Allow":
        raise NotImplementedError("only Allow statements are modelled")
    if not any(fnmatchcase(request.action, a) for a in _as_list(statement["Action"])):
        return False
    if not any(fnmatchcase(request.resource, r) for r in _as_list(statement["Resource"])):
        return False
    ctx = request.context()
    return all(
        _condition_holds(operator, key, expected, ctx)
        for operator, keys in statement.get("Condition", {}).items()
        for key, expected in keys.items()
    )


def allowed(policy: Mapping[str, Any], request: Request) -> bool:
    """Whether any statement of ``policy`` allows ``request`` (no Deny statements modelled)."""
    return any(_statement_allows(s, request) for s in policy["Statement"])
