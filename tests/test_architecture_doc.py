"""docs/architecture.md stays a true map: its module map and rooms are derived from the code.

The module map ("## Layers") must list each operator package and exactly its modules, under
the package's heading; the rooms table must show which room of the controller imports which,
as the import graph has it. The path of one rotation ("## One sync, and a restart") is derived
from a traced run: tests/controller/test_rotation_path.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "architecture.md").read_text()
PACKAGE = ROOT / "operator" / "acm_sync"
INDENT = 2  # a package's entries sit two columns right of its heading
WIRING = "controller"  # the controller's own modules, which put the rooms together


def code_tree() -> dict[str, list[str]]:
    """Each operator package ("" for acm_sync itself, "controller/sync/"...) -> its modules."""
    packages = sorted(p.parent for p in PACKAGE.rglob("__init__.py"))
    tree: dict[str, list[str]] = {}
    for package in packages:
        rel = package.relative_to(PACKAGE).as_posix()
        tree["" if rel == "." else rel + "/"] = sorted(
            p.name for p in package.glob("*.py") if p.name not in ("__init__.py", "__main__.py")
        )
    return tree


def doc_tree(text: str) -> dict[str, list[str]]:
    """The packages and modules the map lists, each under its package's heading.

    An entry is a name ending in ``/`` (a package) or ``.py`` (a module) indented two columns
    past its package's heading; other lines continue a description.
    """
    block = text.split("\n## Layers\n", 1)[1].split("```", 2)[1]
    lines = block.split("\noperator/acm_sync/", 1)[1].splitlines()[1:]
    tree: dict[str, list[str]] = {"": []}
    headings: list[tuple[int, str]] = [(0, "")]  # (indent, package) of the open headings
    for line in lines:
        match = re.match(r"^( *)(\S+)", line)
        if match is None:
            continue
        indent, name = len(match[1]), match[2]
        if indent == 0:
            break  # the operator's part of the map ends
        parents = [package for column, package in headings if column == indent - INDENT]
        if not parents or not name.endswith(("/", ".py")):
            continue
        headings = [h for h in headings if h[0] < indent]
        if name.endswith("/"):
            package = parents[-1] + name
            tree[package] = []
            headings.append((indent, package))
        else:
            tree[parents[-1]].append(name)
    return tree


def test_the_module_map_lists_every_module_under_its_package() -> None:
    """A module added, moved, renamed or removed without the map following fails here."""
    listed, real = doc_tree(DOC), code_tree()
    assert sorted(listed) == sorted(real), "the map's packages are not the operator's"
    wrong = []
    for package, modules in real.items():
        shown = listed[package]
        twice = sorted({m for m in shown if shown.count(m) > 1})
        missing = sorted(set(modules) - set(shown))
        extra = sorted(set(shown) - set(modules))
        if twice or missing or extra:
            wrong.append(f"{package}: missing {missing}, absent {extra}, listed twice {twice}")
    assert not wrong, "docs/architecture.md's map under operator/acm_sync/:\n" + "\n".join(wrong)


def room_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[:2] != ["acm_sync", "controller"]:
        return None
    return parts[2] if len(parts) > 3 else WIRING


def code_rooms() -> dict[str, set[str]]:
    """Each room of the controller -> the rooms its modules import, from the import graph."""
    graph = grimp.build_graph("acm_sync")
    rooms: dict[str, set[str]] = {}
    for module in graph.modules:
        if (room := room_of(module)) is None:
            continue
        imported = {room_of(m) for m in graph.find_modules_directly_imported_by(module)}
        rooms.setdefault(room, set()).update(r for r in imported if r not in (None, room))
    return rooms


def doc_rooms(text: str) -> dict[str, set[str]]:
    """The rooms table of the map: | `room/` | `room/`, `room/` |."""
    layers = text.split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)/`[^|]*\| ([^|]*)\|", layers, flags=re.MULTILINE)
    return {room: set(re.findall(r"`([a-z_]+)/`", imports)) for room, imports in rows}


def test_the_rooms_table_is_the_import_graph_between_the_rooms() -> None:
    """An import across rooms the table does not show (or one it shows that is gone) fails."""
    assert doc_rooms(DOC) == code_rooms()


SAMPLE = """
## Layers

```
operator/acm_sync/       the operator
  cli.py                 dispatcher; entry points in
                         setup.py are read lazily
  controller/            the kopf layer
    main.py              `acm-sync run`
    sync/                one pass
      act.py             act
    handlers.py          the registry
testbed/                 not the operator
  demo.py                the demo
```

| room | imports |
|---|---|
| `controller/` (the wiring) | `sync/` |
| `sync/` | |
"""


def test_the_map_is_read_by_its_headings() -> None:
    """A module is on the map under the heading it is indented under, nowhere else."""
    assert doc_tree(SAMPLE) == {
        "": ["cli.py"],
        "controller/": ["main.py", "handlers.py"],
        "controller/sync/": ["act.py"],
    }
    assert doc_rooms(SAMPLE) == {"controller": {"sync"}, "sync": set()}
