"""The chart's README (`helm show readme`) documents exactly the keys of values.yaml, and
values.yaml's sizing comment quotes the figures of the project README."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.chart.chart_readme import CHART, README, ROOT, render, value_rows

VALUES = CHART / "values.yaml"


def _paths(node: Any, prefix: str = "") -> set[str]:
    if not isinstance(node, dict):
        return set()
    found = set()
    for key, value in node.items():
        path = f"{prefix}{key}"
        found |= {path} | _paths(value, f"{path}.")
    return found


def test_the_chart_readme_is_generated_from_the_current_values() -> None:
    assert README.read_text() == render(VALUES.read_text()), (
        "charts/acm-sync/README.md is stale: run .venv/bin/python tests/chart/chart_readme.py"
    )


def test_every_value_has_exactly_one_row_with_its_description() -> None:
    rows = value_rows(VALUES.read_text())
    keys = [key for key, _, _ in rows]
    assert sorted(keys) == sorted(_paths(yaml.safe_load(VALUES.read_text())))
    # Every top-level value the user may set is explained; Helm's standard names are not.
    standard = {"nameOverride", "fullnameOverride", "imagePullSecrets", "nodeSelector"}
    standard |= {"tolerations", "affinity", "topologySpreadConstraints", "priorityClassName"}
    standard |= {"podAnnotations", "podLabels", "image"}
    described = {k.split(".")[0] for k, _, text in rows if text}
    silent = [k for k, _, _ in rows if "." not in k and k not in described | standard]
    assert silent == []


def test_the_memory_comment_quotes_the_readme_figures() -> None:
    comment = VALUES.read_text().split("\nresources:")[0].rsplit("\n\n", 1)[-1]
    figures = re.findall(r"\b\d+ (?:MB|KB)\b|\b\d+Mi\b", comment)
    assert len(figures) >= 5, comment
    section = (ROOT / "README.md").read_text().split("### Memory and scale")[1].split("\n## ")[0]
    missing = [f for f in figures if f not in section]
    assert missing == [], f"values.yaml's resources comment disagrees with README: {missing}"
