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
BUILD_LOCK = ROOT / "build-requirements.lock"
LOCKS = (LOCK, BUILD_LOCK)
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


def _lock_pins(path: Path = LOCK) -> dict[str, str]:
    return {
        name: version
        for name, (version, _) in requirements_lock.parse_lock(path.read_text()).items()
    }


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


def _pip_commands(verb: str) -> list[list[str]]:
    """Every ``pip <verb>`` command of the Dockerfile's RUN instructions, as argv lists."""
    runs = [args for word, args in _instructions(DOCKERFILE.read_text()) if word == "RUN"]
    commands = []
    for run in runs:
        for command in run.split("&&"):
            argv = shlex.split(command)
            if "pip" in Path(argv[0]).name and verb in argv:
                commands.append(argv)
    return commands


def test_every_pip_install_checks_a_locks_hashes_or_builds_the_project_without_deps() -> None:
    installs = _pip_commands("install")
    assert installs, "the Dockerfile installs nothing"
    locks_installed = []
    for argv in installs:
        assert "--no-deps" in argv, f"pip may resolve unpinned dependencies: {argv}"
        targets = [a for a in argv[argv.index("install") + 1 :] if not a.startswith("-")]
        if targets == ["."]:
            # Build isolation would fetch an unpinned setuptools from the index.
            assert "--no-build-isolation" in argv, (
                f"the build backend is not the locked one: {argv}"
            )
            continue
        assert len(targets) == 1, f"unexpected install target: {argv}"
        assert targets[0] in {lock.name for lock in LOCKS}, f"unexpected install target: {argv}"
        assert argv[argv.index(targets[0]) - 1] == "-r", f"a lock given as a constraint: {argv}"
        assert "--require-hashes" in argv, f"{targets[0]} installed without its hashes: {argv}"
        locks_installed.append(targets[0])
    assert sorted(locks_installed) == sorted(lock.name for lock in LOCKS)
    copied = " ".join(
        args for word, args in _instructions(DOCKERFILE.read_text()) if word == "COPY"
    )
    for name in ("requirements.lock", "build-requirements.lock", "pyproject.toml"):
        assert name in copied


def test_the_build_backend_leaves_the_venv_the_runtime_stage_copies() -> None:
    # Installed into /opt/venv only to build the project; the runtime needs none of it.
    removed = {
        canonicalize_name(a)
        for argv in _pip_commands("uninstall")
        for a in argv[argv.index("uninstall") + 1 :]
        if not a.startswith("-")
    }
    assert set(_lock_pins(BUILD_LOCK)) <= removed


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.name)
def test_every_pin_of_the_locks_carries_sha256_hashes(lock: Path) -> None:
    pins = requirements_lock.parse_lock(lock.read_text())
    assert pins, f"{lock.name} pins nothing"
    for name, (_, hashes) in pins.items():
        assert hashes, f"{name} has no --hash in {lock.name}: the image's install would refuse it"
        assert len(set(hashes)) == len(hashes), f"{name} lists a hash twice in {lock.name}"


def test_a_pin_without_its_hash_or_with_a_stray_option_is_refused() -> None:
    # The lock parser is what the two tests above read the locks with: it must not pass an
    # edit that pip's --require-hashes install would trip over.
    digest = "0" * 64
    assert requirements_lock.parse_lock(f"six==1.17.0 \\\n    --hash=sha256:{digest}\n") == {
        "six": ("1.17.0", [digest])
    }
    assert requirements_lock.parse_lock("six==1.17.0\n") == {"six": ("1.17.0", [])}
    for bad in ("six>=1.16\n", f"six==1.17.0 --hash=md5:{digest[:32]}\n", "six==1.17.0 --pre\n"):
        with pytest.raises(ValueError, match="six"):
            requirements_lock.parse_lock(bad)


def test_make_install_constrains_to_the_locks_pins_without_their_hashes(tmp_path: Path) -> None:
    # A hash in a constraints file turns on hash checking for the whole dev install, which its
    # editable and unpinned packages cannot pass; the derived file keeps only the pins.
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests/chart/requirements_lock.py"), "constraints",
         *map(str, LOCKS)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert "--hash" not in result.stdout
    expected = {**_lock_pins(LOCK), **_lock_pins(BUILD_LOCK)}
    derived = requirements_lock.parse_lock(result.stdout)
    assert {name: version for name, (version, _) in derived.items()} == expected
    assert "requirements_lock.py constraints $(LOCKS)" in (ROOT / "Makefile").read_text()


REGENERATE = "regenerate with `.venv/bin/python tests/chart/requirements_lock.py`"


def test_the_lock_pins_exactly_the_runtime_dependencies_the_tests_ran_with() -> None:
    pins = _lock_pins()
    closure = requirements_lock.runtime_closure()
    missing = set(closure) - set(pins)
    assert not missing, f"requirements.lock lacks {sorted(missing)}: {REGENERATE}"
    extra = set(pins) - set(closure)
    assert not extra, f"requirements.lock pins {sorted(extra)}, which acm-sync does not need"
    assert pins == closure, f"requirements.lock differs from the venv: {REGENERATE}"
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
    assert allowed == {
        "pyproject.toml",
        "README.md",
        "requirements.lock",
        "build-requirements.lock",
        "operator",
    }


def test_the_build_lock_pins_the_backend_pyproject_names_at_the_tested_version() -> None:
    pins = _lock_pins(BUILD_LOCK)
    build_system = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    for spec in map(Requirement, build_system["requires"]):
        name = canonicalize_name(spec.name)
        assert name in pins, f"build-requirements.lock lacks {spec.name}: {REGENERATE}"
        assert spec.specifier.contains(Version(pins[name])), f"{name}=={pins[name]} vs {spec}"
    # The setuptools the dev venv builds test_wheels.py's wheels with is the one the image uses.
    assert pins == requirements_lock.build_pins(), f"build-requirements.lock vs venv: {REGENERATE}"
