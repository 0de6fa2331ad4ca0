"""The folder says which kind a test is (issue 21).

tests/operator/ holds the tests that start the real operator process (tests/operator/opkit.py's
``OperatorProcess``: the ``operator`` fixture or ``env.operator(...)``), which run on every
cluster backend and take seconds each; tests/controller/ holds the in-process ones (the kopf
layer's code called directly, or the operator in a thread), which start no process. A test in
the wrong folder misleads whoever picks the folder to run, so each rule lists its offenders.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
# What starts a process: opkit's OperatorProcess (built by Env.operator) and the stdlib's ways.
PROCESS_CALLS = frozenset({"operator", "OperatorProcess", "open_env", "create_subprocess_exec"})
PROCESS_MODULES = frozenset({"subprocess", "multiprocessing"})
PROCESS_FIXTURES = frozenset({"operator", "env"})  # tests/operator/conftest.py's

Function = ast.FunctionDef | ast.AsyncFunctionDef


def _functions(module: Path) -> dict[str, Function]:
    tree = ast.parse(module.read_text())
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def _called(function: Function) -> set[str]:
    """The names ``function`` calls, ``f(...)`` and ``x.f(...)`` alike."""
    names = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name):
                names.add(node.func.id)
            elif isinstance(node.func, ast.Attribute):
                names.add(node.func.attr)
    return names


def _starters(functions: dict[str, Function]) -> set[str]:
    """The functions (fixtures and helpers) that start the operator process, through others too."""
    starting = {name for name, f in functions.items() if _called(f) & PROCESS_CALLS}
    while True:
        more = {
            name
            for name, f in functions.items()
            if name not in starting
            and ({a.arg for a in f.args.args} | _called(f)) & (starting | {"operator"})
        }
        if not more:
            return starting
        starting |= more


def in_process_tests(folder: Path) -> list[str]:
    """``module::test`` for every test under ``folder`` that never starts the operator process."""
    conftest = _functions(folder / "conftest.py") if (folder / "conftest.py").exists() else {}
    found = []
    for module in sorted(folder.glob("test_*.py")):
        functions = {**conftest, **_functions(module)}
        starting = _starters(functions)
        found += [
            f"{module.name}::{name}"
            for name in functions
            if name.startswith("test_") and name not in starting
        ]
    return found


def process_starting_modules(folder: Path) -> list[str]:
    """``module: why`` for every test module under ``folder`` that may start a process."""
    found = []
    for module in sorted(folder.glob("test_*.py")):
        tree = ast.parse(module.read_text())
        imported = {
            alias.name.split(".")[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.Import)
            for alias in n.names
        } | {
            n.module.split(".")[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module
        }
        why = sorted(imported & PROCESS_MODULES)
        for name, function in _functions(module).items():
            why += sorted(f"{name} calls {c}" for c in _called(function) & PROCESS_CALLS)
            if name.startswith("test_") or function.decorator_list:
                why += sorted(
                    f"{name} takes the {a.arg} fixture"
                    for a in function.args.args
                    if a.arg in PROCESS_FIXTURES
                )
        found += [f"{module.name}: {reason}" for reason in why]
    return found


def test_every_operator_test_starts_the_operator_process() -> None:
    """An in-process test found in tests/operator/ belongs in tests/controller/."""
    found = in_process_tests(TESTS / "operator")
    listing = "\n".join(f"  {line}" for line in found)
    assert not found, (
        f"in-process tests in tests/operator/ (move them to tests/controller/):\n{listing}"
    )


def test_no_controller_test_starts_a_process() -> None:
    """A test that starts a process belongs in tests/operator/ (or its own folder)."""
    found = process_starting_modules(TESTS / "controller")
    listing = "\n".join(f"  {line}" for line in found)
    assert not found, f"tests/controller/ modules that start a process:\n{listing}"


def test_the_rules_tell_the_kinds_apart(tmp_path: Path) -> None:
    """Starting the operator directly, through a fixture or a helper counts; a cluster alone,
    a subprocess import or the conftest's fixtures in an in-process folder are caught."""
    (tmp_path / "conftest.py").write_text(
        "import pytest\n"
        "@pytest.fixture\ndef operator(env):\n    return env.operator('--x').start()\n"
    )
    (tmp_path / "test_a.py").write_text(
        "import pytest\n"
        "@pytest.fixture\ndef standby(env):\n    return env.operator('--y')\n"
        "def restarted(env):\n    return standby(env)\n"
        "def test_fixture(operator): pass\n"
        "def test_own_fixture(standby): pass\n"
        "def test_helper(env): restarted(env)\n"
        "def test_direct(env): env.operator().start()\n"
        "def test_cluster_only(env): env.cluster.namespace()\n"
        "def test_pure(): assert 1\n"
    )
    assert in_process_tests(tmp_path) == ["test_a.py::test_cluster_only", "test_a.py::test_pure"]
    controller = tmp_path / "controller"
    controller.mkdir()
    (controller / "test_b.py").write_text(
        "import subprocess\n"
        "import pytest\n"
        "@pytest.fixture\ndef standby(env):\n    return env.operator('--y')\n"
        "def test_uses(operator): pass\n"
        "def test_pure(): assert 1\n"
    )
    assert process_starting_modules(controller) == [
        "test_b.py: subprocess",
        "test_b.py: standby calls operator",
        "test_b.py: standby takes the env fixture",
        "test_b.py: test_uses takes the operator fixture",
    ]
