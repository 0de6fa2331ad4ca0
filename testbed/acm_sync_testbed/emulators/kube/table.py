"""``meta.k8s.io/v1`` Table responses: what `kubectl get` prints, printer columns included."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from acm_sync_testbed.emulators.kube.resources import ResourceType
from acm_sync_testbed.emulators.kube.selectors import jsonpath

JSON = dict[str, Any]


def wants_table(accept: str) -> bool:
    """Whether the Accept header asks for a Table (kubectl get does, by default)."""
    return "as=Table" in accept


def human_duration(seconds: float) -> str:
    """The age format of ``k8s.io/apimachinery/pkg/util/duration.HumanDuration``.

    A time up to 1 s ahead (clock skew) reads ``0s``; further in the future reads ``<invalid>``.
    """
    s = int(seconds)  # truncates toward zero, as Go's int(d.Seconds()) does
    if s < -1:
        return "<invalid>"
    s = max(s, 0)
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years = days // 365
    if days < 365 * 8:
        return f"{years}y{days % 365}d" if days % 365 else f"{years}y"
    return f"{years}y"


def _age(value: Any) -> str:
    if not isinstance(value, str):
        return "<unknown>"
    try:
        then = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    return human_duration((datetime.now(UTC) - then).total_seconds())


def _cell(column: Any, obj: JSON) -> Any:
    value = column.compute(obj) if column.compute else jsonpath(obj, column.json_path)
    if column.type == "date":
        return _age(value)
    if value is None:
        return None
    if isinstance(value, (dict, list)) and column.type == "string":
        return json.dumps(value, separators=(",", ":"))
    return value


def _row_object(obj: JSON, include: str) -> JSON | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return metadata_only(obj)


def wants_metadata(accept: str) -> bool:
    """Whether the Accept header asks for PartialObjectMetadata (a metadata-only client)."""
    return re.search(r"as=PartialObjectMetadata(?:[;,]|$)", accept) is not None


def metadata_only(obj: JSON) -> JSON:
    """An object as PartialObjectMetadata: its metadata, none of its data."""
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def to_table(rtype: ResourceType, objects: list[JSON], rv: str, include: str = "") -> JSON:
    """Render objects as a Table with the type's printer columns (Name first)."""
    columns = (
        []
        if not rtype.name_column
        else [
            {
                "name": "Name",
                "type": "string",
                "format": "name",
                "description": "Name must be unique within a namespace.",
                "priority": 0,
            }
        ]
    )
    columns += [
        {
            "name": c.name,
            "type": "string" if c.type == "date" else c.type,
            "format": c.format,
            "description": c.description or c.json_path,
            "priority": c.priority,
        }
        for c in rtype.columns
    ]
    rows = []
    for obj in objects:
        names = [obj["metadata"]["name"]] if rtype.name_column else []
        row: JSON = {"cells": [*names, *(_cell(c, obj) for c in rtype.columns)]}
        row_object = _row_object(obj, include or "PartialObjectMetadata")
        if row_object is not None:
            row["object"] = row_object
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv},
        "columnDefinitions": columns,
        "rows": rows,
    }
