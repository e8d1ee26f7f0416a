"""No import cycle between pgtop's modules (issue 16): each module can be read, tested and
moved knowing only what it imports. Imports under TYPE_CHECKING count: they are cycles
too, for a reader and for the layers contract in pyproject.toml."""

from __future__ import annotations

import graphlib

import grimp


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def import_cycle(graph: grimp.ImportGraph, tolerated: tuple[str, ...] = ()) -> list[str]:
    """One import cycle in `graph` as [a, b, ..., a], or [] when there is none."""
    imports = {
        module: {
            imported
            for imported in graph.find_modules_directly_imported_by(module)
            if not any(_inside(module, p) and _inside(imported, p) for p in tolerated)
        }
        for module in graph.modules
    }
    try:
        graphlib.TopologicalSorter(imports).prepare()
    except graphlib.CycleError as cycle:
        return list(reversed(cycle.args[1]))  # graphlib lists the cycle importer-last
    return []


def test_no_module_under_src_imports_itself_through_others() -> None:
    graph = grimp.build_graph("pgtop", include_external_packages=False)
    cycle = import_cycle(graph)
    assert cycle == [], "import cycle: " + " -> ".join(cycle)


def test_the_check_finds_a_cycle_and_honours_the_tolerated_packages() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.a", "q")]:
        graph.add_import(importer=importer, imported=imported)
    cycle = import_cycle(graph)
    assert set(cycle) == {"p.a", "p.b", "p.c"} and cycle[0] == cycle[-1]
    assert import_cycle(graph, tolerated=("p",)) == []
    assert import_cycle(graph, tolerated=("p.b",)) != []  # p.b's imports leave p.b
