"""Generate the hash-pinned locks the image installs, and the hash-free constraints for make.

``requirements.lock`` holds the operator's runtime dependencies, pinned from the tested venv;
``build-requirements.lock`` the build backend the Docker build runs ``pip install .`` with. The
image installs both with ``--require-hashes``, so each pin carries the sha256 of every file pip
could pick for it there: the best wheel for CPython 3.11 on glibc 2.36 (Debian bookworm) on
linux x86_64 and aarch64, or the sdist where no such wheel exists. Regenerate both (this
downloads those files from the package index) after changing the dependencies in
``pyproject.toml`` and running ``make install``::

    .venv/bin/python tests/chart/requirements_lock.py

``make install`` cannot pass a hashed file to ``pip install -c``: a hash in a constraints file
turns on hash-checking for the whole install, which the editable, unpinned dev install fails.
It runs ``python tests/chart/requirements_lock.py constraints LOCK...`` instead, which prints
the same pins without their hashes. That path uses only the standard library: it runs before
the venv holds ``packaging``.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

PROJECT = "acm-sync"
ROOT = Path(__file__).resolve().parents[2]
RUNTIME_LOCK = ROOT / "requirements.lock"
BUILD_LOCK = ROOT / "build-requirements.lock"
# The build backend and what it needs, taken from the venv (the dev extra installs it). wheel
# is not among them: setuptools >= 70.1 builds wheels itself.
BUILD_PACKAGES = ("setuptools",)
ARCHES = ("x86_64", "aarch64")
# The image's glibc (Debian bookworm): pip there accepts manylinux wheels up to 2.36.
GLIBC_MINOR = 36

_HEADER = """\
# {what}
# Every file pip may pick in the image (CPython 3.11, glibc 2.36, x86_64 or aarch64) is
# hash-pinned: the Dockerfile installs this with --require-hashes.
# Regenerate after `make install` (downloads those files):
#   .venv/bin/python tests/chart/requirements_lock.py
"""
RUNTIME_WHAT = "Runtime dependencies of acm-sync, pinned from the tested virtual environment."
BUILD_WHAT = "The build backend the image builds acm-sync with (pip install --no-build-isolation)."

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")
_HASH = re.compile(r"^--hash=sha256:([0-9a-f]{64})$")


def parse_lock(text: str) -> dict[str, tuple[str, list[str]]]:
    """``{name: (version, [sha256, ...])}`` from a lock in pip's requirements format.

    Refuses anything but ``name==version`` pins followed by ``--hash=sha256:`` options, so
    that a hand edit the image's ``--require-hashes`` install would trip over fails here.
    """
    pins: dict[str, tuple[str, list[str]]] = {}
    # Continuation lines end in a backslash; join them into one logical line per pin.
    logical = re.sub(r"\\\n", " ", text)
    for line in logical.splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        match = _PIN.match(words[0])
        if match is None:
            raise ValueError(f"not a name==version pin: {line.strip()!r}")
        hashes = []
        for option in words[1:]:
            found = _HASH.match(option)
            if found is None:
                raise ValueError(f"unexpected option {option!r} on the pin of {words[0]}")
            hashes.append(found.group(1))
        name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
        if name in pins:
            raise ValueError(f"{name} is pinned twice")
        pins[name] = (match.group(2), hashes)
    return pins


def constraints(texts: Iterable[str]) -> str:
    """The pins of the given locks as a hash-free constraints file, for ``pip install -c``."""
    pins: dict[str, str] = {}
    for text in texts:
        pins.update((name, version) for name, (version, _) in parse_lock(text).items())
    return "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))


def runtime_closure(project: str = PROJECT) -> dict[str, str]:
    """Every distribution ``project`` needs at run time (no extras), with installed versions."""
    from importlib.metadata import PackageNotFoundError, distribution

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found: dict[str, str] = {}
    pending = [project]
    while pending:
        name = pending.pop()
        try:
            dist = distribution(name)
        except PackageNotFoundError as exc:  # pragma: no cover - broken venv
            raise SystemExit(f"{name} is required but not installed: run `make install`") from exc
        key = canonicalize_name(dist.metadata["Name"])
        if key in found:
            continue
        found[key] = dist.version
        for spec in dist.requires or ():
            req = Requirement(spec)
            # Extras are off: a marker that needs one (extra == "local") is false here.
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                pending.append(req.name)
    del found[canonicalize_name(project)]
    return found


def build_pins() -> dict[str, str]:
    """The venv's versions of the build backend's packages."""
    from importlib.metadata import version

    return {name: version(name) for name in BUILD_PACKAGES}


def platforms(arch: str) -> list[str]:
    """pip's ``--platform`` values for glibc 2.36 on ``arch``, most preferred first.

    ``pip download --platform manylinux_2_36_x86_64`` alone matches only wheels tagged 2.36,
    whereas pip on the machine itself accepts every older manylinux too; so all are listed,
    the legacy aliases beside the glibc version they stand for.
    """
    aliases = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    tags = []
    for minor in range(GLIBC_MINOR, 4, -1):
        tags.append(f"manylinux_2_{minor}_{arch}")
        if minor in aliases:
            tags.append(f"{aliases[minor]}_{arch}")
    return tags


def _download(pins: Mapping[str, str], arch: str, dest: Path) -> None:
    """What pip in the image would fetch for ``pins`` on ``arch``: best wheel, else the sdist."""
    requirements = dest / "requirements.txt"
    requirements.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())))
    argv = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--prefer-binary",
            "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
            "-d", str(dest / arch), "-r", str(requirements)]  # fmt: skip
    for tag in platforms(arch):
        argv += ["--platform", tag]
    # Only the package index: a local wheel directory could hold builds PyPI does not have.
    env = {k: v for k, v in os.environ.items() if k != "PIP_FIND_LINKS"}
    subprocess.run(argv, check=True, env=env, timeout=900)


def _project_of(filename: str) -> str:
    from packaging.utils import parse_sdist_filename, parse_wheel_filename

    if filename.endswith(".whl"):
        return parse_wheel_filename(filename)[0]
    return parse_sdist_filename(filename)[0]


def hashed(pins: Mapping[str, str]) -> dict[str, list[str]]:
    """``{name: sorted sha256s}`` of every file the image may install for each pin."""
    digests: dict[str, set[str]] = {name: set() for name in pins}
    with tempfile.TemporaryDirectory() as tmp:
        for arch in ARCHES:
            _download(pins, arch, Path(tmp))
            for path in (Path(tmp) / arch).iterdir():
                name = _project_of(path.name)
                digests[name].add(hashlib.sha256(path.read_bytes()).hexdigest())
    missing = sorted(name for name, found in digests.items() if not found)
    if missing:
        raise SystemExit(f"no file downloaded for {missing}")
    return {name: sorted(found) for name, found in digests.items()}


def render_lock(what: str, pins: Mapping[str, str], hashes: Mapping[str, list[str]]) -> str:
    """A lock's text: one ``name==version`` a line, sorted, each with its ``--hash`` options."""
    out = [_HEADER.format(what=what)]
    for name, version in sorted(pins.items()):
        out.append(f"{name}=={version}")
        out.extend(f" \\\n    --hash=sha256:{digest}" for digest in hashes[name])
        out.append("\n")
    return "".join(out)


def main(argv: list[str]) -> None:
    if argv[:1] == ["constraints"]:
        sys.stdout.write(constraints(Path(p).read_text() for p in argv[1:]))
        return
    if argv:
        raise SystemExit("usage: requirements_lock.py [constraints LOCK...]")
    for path, what, pins in (
        (RUNTIME_LOCK, RUNTIME_WHAT, runtime_closure()),
        (BUILD_LOCK, BUILD_WHAT, build_pins()),
    ):
        path.write_text(render_lock(what, pins, hashed(pins)))
        print(f"wrote {path.relative_to(ROOT)} ({len(pins)} pins)")


if __name__ == "__main__":
    main(sys.argv[1:])
