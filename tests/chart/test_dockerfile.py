"""The Dockerfile: lints clean, installs only what the project's own files pin, runs non-root.

No Docker engine is available here, so the image is not built; these are the checks that can
run without one.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.chart import requirements_lock

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
LOCK = ROOT / "requirements.lock"
HADOLINT = Path(sys.executable).with_name("hadolint")


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    result = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            word, _, rest = stripped.partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def _stages(text: str) -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in _instructions(text):
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _lock_pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in LOCK.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"unpinned line in requirements.lock: {line!r}"
            pins[canonicalize_name(name)] = version
    return pins


def _hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HADOLINT, "--no-color", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_hadolint_reports_nothing_on_the_dockerfile() -> None:
    result = _hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout or "[]") == []


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path) -> None:
    # Proves the lint above can fail: latest tag, root user, unpinned pip install.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install kopf\nCMD acm-sync run\n")
    result = _hadolint(bad)
    codes = {finding["code"] for finding in json.loads(result.stdout)}
    assert result.returncode != 0
    assert {"DL3007", "DL3013", "DL3025"} <= codes


def test_every_pip_install_reads_the_lock_or_installs_the_project_without_deps() -> None:
    runs = [args for word, args in _instructions(DOCKERFILE.read_text()) if word == "RUN"]
    installs = []
    for run in runs:
        for command in run.split("&&"):
            argv = shlex.split(command)
            if "pip" in Path(argv[0]).name and "install" in argv:
                installs.append(argv)
    assert installs, "the Dockerfile installs nothing"
    for argv in installs:
        assert "--no-deps" in argv, f"pip may resolve unpinned dependencies: {argv}"
        targets = [a for a in argv[argv.index("install") + 1 :] if not a.startswith("-")]
        assert targets in (["requirements.lock"], ["."]), f"unexpected install target: {argv}"
    copied = " ".join(
        args for word, args in _instructions(DOCKERFILE.read_text()) if word == "COPY"
    )
    assert "requirements.lock" in copied
    assert "pyproject.toml" in copied


def test_the_lock_pins_every_runtime_dependency_of_the_project() -> None:
    pins = _lock_pins()
    closure = requirements_lock.runtime_closure()
    missing = set(closure) - set(pins)
    assert not missing, (
        f"requirements.lock lacks {sorted(missing)}: regenerate it with "
        "`.venv/bin/python tests/chart/requirements_lock.py > requirements.lock`"
    )
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for spec in map(Requirement, declared):
        version = pins[canonicalize_name(spec.name)]
        assert spec.specifier.contains(Version(version)), f"{spec.name}=={version} vs {spec}"


@pytest.mark.parametrize("tool", ["pytest", "mypy", "ruff", "moto", "hypothesis", "flask"])
def test_the_lock_carries_no_development_or_emulator_packages(tool: str) -> None:
    assert canonicalize_name(tool) not in _lock_pins()


def test_the_runtime_stage_runs_acm_sync_as_a_fixed_non_root_uid() -> None:
    runtime = _stages(DOCKERFILE.read_text())[-1]
    users = [args for word, args in runtime if word == "USER"]
    assert users, "the runtime stage has no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), "a numeric UID lets runAsNonRoot verify it"
    assert int(uid) > 0
    entrypoint = json.loads(next(args for word, args in runtime if word == "ENTRYPOINT"))
    assert Path(entrypoint[0]).name == "acm-sync"
    assert entrypoint[1:] == ["run"]


def test_the_base_image_is_a_slim_python_pinned_to_a_patch_version_and_a_digest() -> None:
    text = DOCKERFILE.read_text()
    image = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, flags=re.MULTILINE)
    assert image is not None
    # A tag can be moved to other bytes; the digest cannot.
    assert re.fullmatch(r"python:3\.1[1-9]\.\d+-slim-\w+@sha256:[0-9a-f]{64}", image.group(1))
    froms = [args for word, args in _instructions(text) if word == "FROM"]
    assert len(froms) >= 2, "multi-stage: the runtime stage carries no build tooling"
    assert all(f.split()[0] == "${PYTHON_IMAGE}" for f in froms)


def test_the_image_carries_oci_labels() -> None:
    labels = " ".join(
        args for word, args in _instructions(DOCKERFILE.read_text()) if word == "LABEL"
    )
    for key in ("title", "description", "version", "licenses", "source"):
        assert f"org.opencontainers.image.{key}=" in labels


def test_the_build_context_admits_only_what_the_dockerfile_copies() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignore
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "requirements.lock", "operator"}
