"""The two wheels: the operator's carries nothing of its test bed; the test bed's, its data.

The emulators, playground and demo live in a distribution of their own (testbed/); if the
operator's packaging ever picked them up again, the image would ship modules whose dependencies
(moto, werkzeug) it does not have. The test bed finds the CRDs and examples as package data,
which its wheel must therefore hold as files (in the repository they are symlinks).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The test bed's modules as they were named inside the operator, and as they are named now.
FORBIDDEN_PARTS = ("emulators", "playground", "demo", "acm_sync_testbed")


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding freshly built wheels of the operator and of the test bed."""
    tmp = tmp_path_factory.mktemp("wheels")
    source = tmp / "src"
    # A copy of the tree with testbed/ in it, so that packaging which reached into it would
    # show; without stale build/ or egg-info directories, which setuptools would pack as well.
    ignore = shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "cluster")
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("operator", "testbed", "crds", "examples"):
        shutil.copytree(ROOT / name, source / name, symlinks=True, ignore=ignore)
    out = tmp / "dist"
    for project in (source, source / "testbed"):
        # No build isolation: the dev environment's setuptools builds them, no package index.
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
             "--disable-pip-version-check", "-w", str(out), str(project)],
            check=True, capture_output=True, text=True, timeout=240,
        )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    """The operator's wheel."""
    wheels = list(dist.glob("acm_sync-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_the_wheel_holds_the_operator(wheel_names: list[str]) -> None:
    for module in ("acm_sync/cli.py", "acm_sync/check_cli.py", "acm_sync/controller/main.py"):
        assert module in wheel_names
    assert "acm_sync/py.typed" in wheel_names


def test_the_wheel_holds_no_test_bed_module(wheel_names: list[str]) -> None:
    leaked = [
        name
        for name in wheel_names
        if any(part in FORBIDDEN_PARTS or part.removesuffix(".py") in FORBIDDEN_PARTS
               for part in Path(name).parts)
    ]  # fmt: skip
    assert not leaked, f"the operator wheel carries test-bed files: {leaked}"


def test_the_wheel_holds_only_the_acm_sync_package(wheel_names: list[str]) -> None:
    tops = {Path(name).parts[0] for name in wheel_names}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"acm_sync"}


def test_the_wheel_registers_only_the_console_script(wheel: Path) -> None:
    """playground and demo are the test bed's entry points, never the operator's."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt"))
        entry_points = archive.read(name).decode()
    assert "[console_scripts]" in entry_points
    assert "acm_sync.commands" not in entry_points
    assert "playground" not in entry_points
    assert "demo" not in entry_points


def test_the_test_bed_wheel_holds_the_crds_and_examples_as_files(dist: Path) -> None:
    wheels = list(dist.glob("acm_sync_testbed-*.whl"))
    assert len(wheels) == 1, wheels
    data = "acm_sync_testbed/data/"
    with zipfile.ZipFile(wheels[0]) as archive:
        names = set(archive.namelist())
        for crd in sorted((ROOT / "crds").glob("*.yaml")):
            assert archive.read(f"{data}crds/{crd.name}") == crd.read_bytes()
        examples = {
            p.relative_to(ROOT / "examples").as_posix() for p in (ROOT / "examples").rglob("*.yaml")
        }
        assert examples, "examples/ holds no manifest"
        for example in sorted(examples):
            assert (
                archive.read(f"{data}examples/{example}")
                == (ROOT / "examples" / example).read_bytes()
            )
    # The generator is a maintainer's script, not a manifest to apply.
    assert f"{data}examples/generate.py" not in names
