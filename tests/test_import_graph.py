"""No import circle in the operator or the test bed, at module level.

A circle (``a`` imports ``b`` imports ``a``, even under TYPE_CHECKING) means neither module can
be understood, tested or moved without the other; import-linter's layers catch circles across
layers only, so this test looks inside them too.
"""

from __future__ import annotations

import grimp

PACKAGES = ("acm_sync", "acm_sync_testbed")


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Each group of modules that import each other in a circle (Tarjan's SCCs), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative: a recursive walk could exceed the recursion limit on a long chain.
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            module, targets = work[-1]
            for target in targets:
                if target not in graph.modules:
                    continue
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    imported = sorted(graph.find_modules_directly_imported_by(target))
                    work.append((target, iter(imported)))
                    break
                if target in on_stack:
                    low[module] = min(low[module], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[module])
                if low[module] == index[module]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == module:
                            break
                    if len(group) > 1 or module in graph.find_modules_directly_imported_by(module):
                        groups.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return sorted(groups)


def test_no_import_cycle_in_the_operator_or_the_test_bed() -> None:
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False)
    cycles = import_cycles(graph)
    shown = []
    for group in cycles:
        chain = graph.find_shortest_chain(importer=group[0], imported=group[1]) or ()
        back = graph.find_shortest_chain(importer=group[1], imported=group[0]) or ()
        shown.append(f"{' -> '.join(chain)} and back: {' -> '.join(back)}")
    assert not cycles, "import circles:\n" + "\n".join(shown)


def test_the_cycle_finder_finds_a_circle_through_three_modules() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")]:
        graph.add_import(importer=importer, imported=imported)
    assert import_cycles(graph) == [["p.a", "p.b", "p.c"]]
