"""Label selectors written as ``kubectl -l`` takes them, turned into a LabelSelector. Pure.

``--annotation-namespace-selector`` is one flag (and one chart value), so it is the string form:
``team=shop,env in (prod,staging),!legacy``. The result is matched with
:func:`acm_sync.core.targets.selector_matches`, the same semantics as an AcmTarget's
``namespaceSelector``.
"""

from __future__ import annotations

import re
from typing import Any

# A label key: an optional DNS-subdomain prefix and a name of up to 63 characters.
_KEY = (
    r"(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
)
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?"
_SET = re.compile(rf"^(?P<key>{_KEY})\s+(?P<op>in|notin)\s+\((?P<values>[^()]*)\)$")
_EQUALITY = re.compile(rf"^(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>{_VALUE})$")
_EXISTS = re.compile(rf"^(?P<not>!?)\s*(?P<key>{_KEY})$")
MAX_SELECTOR_LENGTH = 4096


class SelectorError(ValueError):
    """The selector cannot be parsed; the message says which requirement."""


def _requirements(text: str) -> list[str]:
    """Split on the commas outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise SelectorError(f"unbalanced ')' in {text!r}")
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth:
        raise SelectorError(f"unbalanced '(' in {text!r}")
    parts.append(text[start:])
    return [p.strip() for p in parts]


def parse_selector(text: str) -> dict[str, Any]:
    """``kubectl -l`` syntax -> ``{"matchExpressions": [...]}``; raises SelectorError.

    An empty string selects everything, as in Kubernetes.
    """
    if len(text) > MAX_SELECTOR_LENGTH:
        raise SelectorError(f"the selector is over {MAX_SELECTOR_LENGTH} characters")
    expressions: list[dict[str, Any]] = []
    if not text.strip():
        return {"matchExpressions": expressions}
    for requirement in _requirements(text):
        if match := _SET.match(requirement):
            values = [v.strip() for v in match["values"].split(",") if v.strip()]
            if not values or any(not re.fullmatch(_VALUE, v) for v in values):
                raise SelectorError(f"{requirement!r}: a set needs one or more label values")
            operator = "In" if match["op"] == "in" else "NotIn"
            expressions.append({"key": match["key"], "operator": operator, "values": values})
        elif match := _EQUALITY.match(requirement):
            operator = "NotIn" if match["op"] == "!=" else "In"
            expressions.append(
                {"key": match["key"], "operator": operator, "values": [match["value"]]}
            )
        elif match := _EXISTS.match(requirement):
            operator = "DoesNotExist" if match["not"] else "Exists"
            expressions.append({"key": match["key"], "operator": operator})
        else:
            raise SelectorError(f"{requirement!r} is not a label selector requirement")
    return {"matchExpressions": expressions}
